/**
 * Outgoing webhooks as the worker reports them (conductor.worker.webhooks.WebhookDispatcher.status).
 */

export interface WebhookStatus {
  readonly name: string;
  readonly url: string;
  readonly pattern: string;
  readonly delivered: number;
  readonly failures: number;
  readonly disabled: boolean;
  readonly last_error: string | null;
}

export interface NewWebhook {
  name: string;
  url: string;
  pattern: string;
}

const TOPIC_SEGMENT = /^([a-z0-9_-]+|\*|#)$/;

/** A subscription pattern: dotted segments, each a word, `*` or `#`. */
export function isTopicPattern(pattern: string): boolean {
  return pattern.length > 0 && pattern.split(".").every((segment) => TOPIC_SEGMENT.test(segment));
}

export function validateWebhook(hook: NewWebhook): string[] {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(hook.name)) {
    problems.push("name: lowercase letters, digits and dashes");
  }
  try {
    const url = new URL(hook.url);
    if (url.protocol !== "https:" && url.hostname !== "localhost") {
      problems.push("url: https only (except localhost)");
    }
  } catch {
    problems.push("url: not a URL");
  }
  if (!isTopicPattern(hook.pattern)) {
    problems.push("pattern: dotted words, * or #");
  }
  return problems;
}

export function webhookHealth(hook: WebhookStatus): "ok" | "failing" | "disabled" {
  if (hook.disabled) {
    return "disabled";
  }
  return hook.failures > 0 ? "failing" : "ok";
}
