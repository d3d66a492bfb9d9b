// Model-based test of the metrics subscriber given state sources: random sequences of catalog
// events, socket and session state changes, duplicate closes and attach/detach of the subscriber.
// After every step the scrape equals the model, gauges read from the authoritative state are exact
// from any attach point, and none goes negative.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/events/catalog.js';
import { commands, runModel } from '../support/metrics-commands.js';

describe('metrics subscriber model, with state sources (exact from any attach point)', () => {
  it('scraped values equal the model after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        const model = await runModel(cmds, true);
        for (const provider of PROVIDERS) expect(model.liveInFlight[provider]).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
