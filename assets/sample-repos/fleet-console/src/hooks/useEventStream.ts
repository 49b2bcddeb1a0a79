/**
 * The last N events matching a pattern, and the stream's connection state, for rendering.
 */
import { useEffect, useState } from "react";

import type { GenericEvent } from "../types/events";
import type { EventStream, StreamState } from "../services/eventStream";

export function useEventStream(stream: EventStream, pattern = "#", limit = 100) {
  const [events, setEvents] = useState<GenericEvent[]>([]);
  const [state, setState] = useState<StreamState>(stream.status);

  useEffect(() => {
    const unsubscribe = stream.subscribe(
      pattern,
      (event) => setEvents((previous) => [...previous.slice(-(limit - 1)), event]),
      true,
    );
    const poll = setInterval(() => setState(stream.status), 1000);
    return () => {
      unsubscribe();
      clearInterval(poll);
    };
  }, [stream, pattern, limit]);

  return { events, state };
}
