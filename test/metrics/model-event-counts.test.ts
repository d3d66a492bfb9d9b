// Model-based test of the metrics subscriber without state sources: the same random sequences as
// with them, but the gauges are the counts last carried by events (in flight clamped at 0). After
// every step the scrape equals the model, and no gauge goes negative.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { commands, runModel } from '../support/metrics-commands.js';

describe('metrics subscriber model, with event-carried counts only', () => {
  it('scraped values equal the model after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        await runModel(cmds, false);
      }),
      { numRuns: 60 },
    );
  });
});
