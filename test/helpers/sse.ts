/** A raw SSE reader for tests (Node 20 has no EventSource). */

export interface SseEvent {
  event: string;
  id: string;
  data: string;
}

export interface SseStream {
  /** Every event so far, in order (comment-only blocks are not events). */
  readonly events: SseEvent[];
  /** Comment blocks starting with ": ping" so far, and whether the stream ended. */
  readonly state: { pings: number; ended: boolean };
}

/**
 * Reads `response.body` as text/event-stream in the background until it
 * ends or the request is aborted, into `into` (new arrays by default).
 */
export function readSse(
  response: Response,
  into: SseStream = { events: [], state: { pings: 0, ended: false } },
): SseStream {
  const { events, state } = into;
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: "message", id: "", data: "" };
          let comment = true;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            comment = false;
            const colon = line.indexOf(":");
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1);
            if (field === "event") event.event = value;
            else if (field === "id") event.id = value;
            else if (field === "data") event.data += value;
          }
          if (!comment) events.push(event);
          else if (block.startsWith(": ping")) state.pings++;
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // Aborted.
    }
    state.ended = true;
  })();
  return into;
}
