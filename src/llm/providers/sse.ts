// Server-sent events from a fetch Response body, parsed by eventsource-parser (never by hand).
// Yields each event's data as it completes; ends when the body ends.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage, void, undefined> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => void pending.push(event) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      // Index loop: the queue is drained before the next read, so no shift() per event.
      for (let i = 0; i < pending.length; i++) yield pending[i]!;
      pending.length = 0;
    }
    parser.feed(decoder.decode());
    for (const event of pending) yield event;
  } finally {
    // Stops the body (and frees the socket) when the consumer leaves early.
    reader.cancel().catch(() => {});
  }
}
