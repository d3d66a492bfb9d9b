// The fake OpenAI-compatible server of the load run's provider (TTFT 300 ms, 8 chunks 40 ms
// apart), in its own process, for bench/llm/paced.bench.ts. Sends its URLs over IPC; exits on
// disconnect.
import { startFakeLlmServer } from '../../test/support/fake-llm-server.js';

const paced = await startFakeLlmServer({ realistic: { firstTokenMs: 300, chunkMs: 40, chunks: 8 } });
process.send?.({ url: paced.url, baseUrls: paced.baseUrls });
process.on('disconnect', () => void paced.close().then(() => process.exit(0)));
