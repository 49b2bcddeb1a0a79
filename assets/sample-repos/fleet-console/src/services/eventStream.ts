/**
 * The worker's server-sent event stream, with reconnects that resume from the last sequence number seen,
 * local topic filters, and a bounded buffer for late subscribers.
 */
import { topicMatches, type EventHandler, type GenericEvent } from "../types/events";
import { decodeEvent, DecodeError } from "../types/guards";
import { backoffDelay } from "../utils/backoff";

export type StreamState = "connecting" | "open" | "reconnecting" | "closed";

export interface EventStreamOptions {
  url: string;
  pattern?: string;
  bufferSize?: number;
  eventSourceImpl?: typeof EventSource;
  onStateChange?: (state: StreamState) => void;
}

interface Listener {
  pattern: string;
  handler: EventHandler;
}

export class EventStream {
  private source: EventSource | null = null;
  private listeners = new Set<Listener>();
  private buffer: GenericEvent[] = [];
  private lastSequence = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private state: StreamState = "closed";
  private readonly bufferSize: number;
  private readonly EventSourceImpl: typeof EventSource;

  constructor(private readonly options: EventStreamOptions) {
    this.bufferSize = options.bufferSize ?? 500;
    this.EventSourceImpl = options.eventSourceImpl ?? EventSource;
  }

  get status(): StreamState {
    return this.state;
  }

  get recent(): readonly GenericEvent[] {
    return this.buffer;
  }

  open(): void {
    if (this.source) return;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    const url = new URL(this.options.url);
    url.searchParams.set("pattern", this.options.pattern ?? "#");
    url.searchParams.set("since", String(this.lastSequence));
    const source = new this.EventSourceImpl(url.toString());
    source.onopen = () => {
      this.attempt = 0;
      this.setState("open");
    };
    source.onmessage = (message: MessageEvent<string>) => this.receive(message.data);
    source.onerror = () => this.reconnect();
    this.source = source;
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.source?.close();
    this.source = null;
    this.setState("closed");
  }

  /** Subscribe to a topic pattern; returns the unsubscribe function. Replays buffered matches first. */
  subscribe(pattern: string, handler: EventHandler, replay = false): () => void {
    const listener: Listener = { pattern, handler };
    this.listeners.add(listener);
    if (replay) {
      for (const event of this.buffer) {
        if (topicMatches(pattern, event.topic)) handler(event);
      }
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  private receive(data: string): void {
    let event: GenericEvent;
    try {
      event = decodeEvent(JSON.parse(data), "event");
    } catch (error) {
      if (error instanceof DecodeError || error instanceof SyntaxError) {
        console.warn("dropping malformed event", error.message);
        return;
      }
      throw error;
    }
    if (event.sequence <= this.lastSequence) return; // already seen before a reconnect
    this.lastSequence = event.sequence;
    this.buffer.push(event);
    if (this.buffer.length > this.bufferSize) this.buffer.splice(0, this.buffer.length - this.bufferSize);
    for (const { pattern, handler } of this.listeners) {
      if (topicMatches(pattern, event.topic)) handler(event);
    }
  }

  private reconnect(): void {
    this.source?.close();
    this.source = null;
    this.attempt += 1;
    this.setState("reconnecting");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, backoffDelay(this.attempt));
  }

  private setState(state: StreamState): void {
    if (state !== this.state) {
      this.state = state;
      this.options.onStateChange?.(state);
    }
  }
}
