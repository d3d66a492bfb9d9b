// Runs two fake LLM servers in their own process for the LLM benchmarks, so the servers' work
// does not share the measured event loop: `burst` sends a whole reply at once, `paced` sends one
// event per packet, 1 ms apart, like a model streaming tokens. Sends their base URLs to the
// parent over IPC; exits on disconnect.
import { startFakeLlmServer } from '../../test/support/fake-llm-server.js';

const burstChunks = Number(process.env['FAKE_BURST_CHUNKS'] ?? '200');
const pacedChunks = Number(process.env['FAKE_PACED_CHUNKS'] ?? '40');
const burst = await startFakeLlmServer({ realistic: { firstTokenMs: 0, chunkMs: 0, chunks: burstChunks } });
const paced = await startFakeLlmServer({ realistic: { firstTokenMs: 0, chunkMs: 1, chunks: pacedChunks } });
process.send?.({
  burst: { url: burst.url, baseUrls: burst.baseUrls },
  paced: { url: paced.url, baseUrls: paced.baseUrls },
});
process.on('disconnect', () => {
  void Promise.all([burst.close(), paced.close()]).then(() => process.exit(0));
});
