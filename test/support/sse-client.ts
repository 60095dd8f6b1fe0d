import http from 'node:http';

export interface SseEvent {
  id: string | null;
  event: string;
  data: any;
}

/** Reads a Server-Sent Events stream the way EventSource does (fields per event; id carried over when absent). */
export class SseTestClient {
  readonly events: SseEvent[] = [];
  lastEventId: string | null = null;
  status = 0;
  ended = false;
  res: http.IncomingMessage | null = null;
  private buf = '';
  private readonly req: http.ClientRequest;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.res = res;
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (d: string) => this.feed(d));
      res.on('end', () => { this.ended = true; });
      res.on('error', () => { this.ended = true; });
    });
    this.req.on('error', () => { this.ended = true; });
  }

  private feed(d: string): void {
    this.buf += d;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      let event = 'message';
      let data = '';
      let id: string | null = null;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data += value;
        else if (field === 'id') id = value;
      }
      if (id !== null) this.lastEventId = id;
      if (data !== '') this.events.push({ id, event, data: JSON.parse(data) });
    }
  }

  async waitFor(n: number, timeoutMs = 5000): Promise<SseEvent[]> {
    const end = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (Date.now() > end) throw new Error(`expected ${n} SSE events, got ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.events;
  }

  async opened(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.status === 0) {
      if (Date.now() > end) throw new Error('SSE stream did not open');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): void {
    this.req.destroy();
  }
}
