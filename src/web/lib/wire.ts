// The only server code the browser app takes: wire-protocol types (erased at build time).
export type {
  HttpErrorJson,
  LiveMetricsJson,
  MessageJson,
  ServerFrame,
  SessionJson,
  StatsJson,
  TranscriptJson,
  WireError,
} from '../../protocol/wire.js';
