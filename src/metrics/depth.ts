// The "LLM depth" and REST series of the metrics contract: inter-token gaps, how replies
// finished, attempts in flight, requests and spend per configured model, cached/reasoning
// tokens, and HTTP requests by route pattern. Attached by attachMetrics on the same registry.
//
// Same rules as attach.ts: counters are plain numbers in preallocated slots read in collect();
// label values come from closed sets only (configured providers and model ids, route patterns
// from the route table, fixed reason words), so no client input can create a series.
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  HTTP_METHODS,
  LLM_FINISH_REASONS,
  PROVIDERS,
  UNMATCHED_ROUTE,
  type ChatEvents,
  type HttpMethod,
  type LlmFinishReason,
  type Provider,
} from '../events/catalog.js';
import { subscribe, type Bus } from '../events/bus.js';
import type { ModelInfo, ModelPrices } from '../llm/types.js';
import type { MetricSpec } from './contract.js';
import { DEPTH_METRICS as M, HTTP_DURATION_BUCKETS, INTER_TOKEN_BUCKETS } from './depth-contract.js';
import { SlotHistogram, type Slot } from './slot-histogram.js';

export interface DepthOptions {
  /** Provider names configured in this process: their series exist at 0 from the first scrape. */
  readonly providers?: readonly Provider[];
  /** Configured models (the closed set of `model` label values) with their optional prices. */
  readonly models?: readonly Pick<ModelInfo, 'id' | 'provider' | 'prices'>[];
  /** The reply source's own count of attempts in flight, read at scrape time. */
  readonly llmInFlight?: (provider: Provider) => number;
}

/** More distinct route patterns than any route table here has; past it a route counts as unmatched. */
export const MAX_ROUTES = 256;

const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
const statusClass = (status: number): number => (status < 300 ? 0 : status < 400 ? 1 : status < 500 ? 2 : 3);
const METHOD_SET: ReadonlySet<string> = new Set(HTTP_METHODS);

type PerProvider = Record<Provider, number>;
const perProvider = (): PerProvider => ({ openai: 0, anthropic: 0, dify: 0, demo: 0 });
const perReason = (): Record<LlmFinishReason, number> => ({ stop: 0, length: 0, content_filter: 0, cancelled: 0, error: 0 });

const seconds = (v: number): number => (v > 0 && Number.isFinite(v) ? v : 0);
const count = (v: number | undefined): number => (v !== undefined && v > 0 && Number.isFinite(v) ? Math.floor(v) : 0);

class ModelSlot {
  requests = 0;
  cost = 0;
  constructor(
    readonly id: string,
    readonly provider: Provider,
    readonly prices: ModelPrices | undefined,
  ) {}
}

class RouteSlot {
  constructor(readonly route: string) {}
  /** Per method, the answered count per status class. */
  readonly answered = new Map<HttpMethod, Float64Array>();
  readonly durations = new Map<HttpMethod, Slot>();
}

interface DepthState {
  providers: readonly Provider[];
  models: Map<string, ModelSlot>;
  llmInFlight: ((provider: Provider) => number) | undefined;
  readonly finished: Record<Provider, Record<LlmFinishReason, number>>;
  /** Counted from events, for when no reply source is given. */
  readonly inFlight: PerProvider;
  readonly cached: PerProvider;
  readonly reasoning: PerProvider;
  readonly routes: Map<string, RouteSlot>;
  readonly interToken: Record<Provider, Slot>;
  readonly httpDuration: SlotHistogram;
}

const states = new WeakMap<Registry, DepthState>();

function base(spec: MetricSpec, registry: Registry) {
  return { name: spec.name, help: spec.help, labelNames: spec.labels, registers: [registry] };
}

function modelSlots(models: DepthOptions['models']): Map<string, ModelSlot> {
  const map = new Map<string, ModelSlot>();
  for (const m of models ?? []) map.set(m.id, new ModelSlot(m.id, m.provider, m.prices));
  return map;
}

function createState(registry: Registry, options: DepthOptions): DepthState {
  const interToken = new SlotHistogram(M.llmInterToken, registry, INTER_TOKEN_BUCKETS);
  const s: DepthState = {
    providers: options.providers ?? ['openai', 'anthropic', 'dify'],
    models: modelSlots(options.models),
    llmInFlight: options.llmInFlight,
    finished: { openai: perReason(), anthropic: perReason(), dify: perReason(), demo: perReason() },
    inFlight: perProvider(),
    cached: perProvider(),
    reasoning: perProvider(),
    routes: new Map(),
    interToken: {
      openai: interToken.slot({ provider: 'openai' }),
      anthropic: interToken.slot({ provider: 'anthropic' }),
      dify: interToken.slot({ provider: 'dify' }),
      demo: interToken.slot({ provider: 'demo' }),
    },
    httpDuration: new SlotHistogram(M.httpDuration, registry, HTTP_DURATION_BUCKETS),
  };
  // Only configured providers (and any that has data) are shown, as in attach.ts.
  const shown = (p: Provider, has: boolean): boolean => has || s.providers.includes(p);
  keepConfigured(s);

  new Counter({
    ...base(M.llmFinished, registry),
    collect() {
      this.reset();
      for (const provider of PROVIDERS) {
        const r = s.finished[provider];
        if (!shown(provider, LLM_FINISH_REASONS.some((k) => r[k] > 0))) continue;
        for (const reason of LLM_FINISH_REASONS) this.inc({ provider, reason }, r[reason]);
      }
    },
  });
  new Gauge({
    ...base(M.llmInFlight, registry),
    collect() {
      this.reset();
      for (const provider of PROVIDERS) {
        const n = s.llmInFlight?.(provider) ?? s.inFlight[provider];
        if (shown(provider, n > 0)) this.set({ provider }, n);
      }
    },
  });
  new Counter({
    ...base(M.llmModelRequests, registry),
    collect() {
      this.reset();
      for (const m of s.models.values()) this.inc({ provider: m.provider, model: m.id }, m.requests);
    },
  });
  new Counter({
    ...base(M.llmCost, registry),
    collect() {
      this.reset();
      for (const m of s.models.values()) if (m.prices !== undefined) this.inc({ provider: m.provider, model: m.id }, m.cost);
    },
  });
  new Counter({
    ...base(M.llmTokenDetails, registry),
    collect() {
      this.reset();
      for (const provider of PROVIDERS) {
        if (!shown(provider, s.cached[provider] + s.reasoning[provider] > 0)) continue;
        this.inc({ provider, type: 'cached_input' }, s.cached[provider]);
        this.inc({ provider, type: 'reasoning' }, s.reasoning[provider]);
      }
    },
  });
  new Counter({
    ...base(M.httpRequests, registry),
    collect() {
      this.reset();
      for (const [route, slot] of s.routes) {
        for (const [method, counts] of slot.answered) {
          for (let i = 0; i < STATUS_CLASSES.length; i++) {
            const n = counts[i] as number;
            if (n > 0) this.inc({ route, method, status: STATUS_CLASSES[i] as string }, n);
          }
        }
      }
    },
  });
  return s;
}

function keepConfigured(s: DepthState): void {
  for (const provider of PROVIDERS) s.interToken[provider].keep = s.providers.includes(provider);
}

function routeSlot(s: DepthState, route: string): RouteSlot {
  let slot = s.routes.get(route);
  if (slot !== undefined) return slot;
  // Route labels come from the route table; this bound only guards against a caller that
  // emits raw paths by mistake.
  const key = route === UNMATCHED_ROUTE || (route.startsWith('/') && s.routes.size < MAX_ROUTES) ? route : UNMATCHED_ROUTE;
  slot = s.routes.get(key);
  if (slot === undefined) {
    slot = new RouteSlot(key);
    s.routes.set(key, slot);
  }
  return slot;
}

/** Subscribes the depth series to `bus` (registered once per registry); returns an idempotent detach. */
export function attachDepthMetrics(bus: Bus, registry: Registry, options: DepthOptions = {}): () => void {
  let s = states.get(registry);
  if (s === undefined) {
    s = createState(registry, options);
    states.set(registry, s);
  } else {
    if (options.providers !== undefined) s.providers = options.providers;
    keepConfigured(s);
    if (options.llmInFlight !== undefined) s.llmInFlight = options.llmInFlight;
    if (options.models !== undefined) {
      const previous = s.models;
      s.models = modelSlots(options.models);
      // Counters never go backwards: a model kept across re-attachment keeps its totals.
      for (const [id, m] of s.models) {
        const old = previous.get(id);
        if (old !== undefined) {
          m.requests = old.requests;
          m.cost = old.cost;
        }
      }
    }
  }
  const st = s;
  return subscribe(bus, 'metrics', {
    llmRequested: function onLlmRequested(e: ChatEvents['llmRequested']) {
      st.inFlight[e.provider]++;
      const m = st.models.get(e.model);
      if (m !== undefined) m.requests++;
    },
    llmResponded: function onLlmResponded(e: ChatEvents['llmResponded']) {
      if (st.inFlight[e.provider] > 0) st.inFlight[e.provider]--;
      const input = count(e.inputTokens);
      const cached = Math.min(count(e.cachedInputTokens), input);
      st.cached[e.provider] += cached;
      st.reasoning[e.provider] += count(e.reasoningTokens);
      const m = st.models.get(e.model);
      const p = m?.prices;
      if (m !== undefined && p !== undefined) {
        m.cost += ((input - cached) * p.input + cached * (p.cachedInput ?? p.input) + count(e.outputTokens) * p.output) / 1e6;
      }
    },
    llmFailed: function onLlmFailed(e: ChatEvents['llmFailed']) {
      if (st.inFlight[e.provider] > 0) st.inFlight[e.provider]--;
    },
    llmCancelled: function onLlmCancelled(e: ChatEvents['llmCancelled']) {
      if (st.inFlight[e.provider] > 0) st.inFlight[e.provider]--;
    },
    llmChunkReceived: function onLlmChunk(e: ChatEvents['llmChunkReceived']) {
      st.interToken[e.provider].observe(seconds(e.gapSeconds));
    },
    llmFinished: function onLlmFinished(e: ChatEvents['llmFinished']) {
      st.finished[e.provider][e.reason]++;
    },
    httpResponded: function onHttpResponded(e: ChatEvents['httpResponded']) {
      const slot = routeSlot(st, e.route);
      const method: HttpMethod = METHOD_SET.has(e.method) ? e.method : 'other';
      let counts = slot.answered.get(method);
      if (counts === undefined) {
        counts = new Float64Array(STATUS_CLASSES.length);
        slot.answered.set(method, counts);
      }
      const k = statusClass(e.status);
      counts[k] = counts[k]! + 1;
      let duration = slot.durations.get(method);
      if (duration === undefined) {
        duration = st.httpDuration.slot({ route: slot.route, method });
        slot.durations.set(method, duration);
      }
      duration.observe(seconds(e.seconds));
    },
  });
}
