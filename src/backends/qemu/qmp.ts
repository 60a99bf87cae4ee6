// A QMP client: the host drives QEMU (reset, migrate, cont) over its unix socket. Every message
// QEMU sends is JSON crossing a boundary, checked against the shape QMP promises.
import { connect, type Socket } from "node:net";
import { validator } from "../../schema/validate.js";

interface QmpMessage {
  QMP?: object;
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
}

const checkMessage = validator<QmpMessage>({
  type: "object",
  properties: {
    QMP: { type: "object" },
    return: {},
    error: { type: "object", required: ["class", "desc"], properties: { class: { type: "string" }, desc: { type: "string" } } },
    event: { type: "string" },
  },
  anyOf: ["QMP", "return", "error", "event"].map((key) => ({ required: [key], properties: { [key]: {} } })),
});

export class QmpError extends Error {}
/** QEMU answered the command with an error: it refused it (not a lost connection). */
export class QmpRefusal extends QmpError {}

export class Qmp {
  private buffer = "";
  private waiting: ((message: QmpMessage) => void)[] = [];
  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      let newline;
      while ((newline = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (!line) continue;
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (!checkMessage(message) || message.event) continue;
        this.waiting.shift()?.(message);
      }
    });
  }

  /** Connects once QEMU has made the socket (it may take a moment), and negotiates capabilities. */
  static async open(path: string, timeoutMs = 5000): Promise<Qmp> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once("error", reject);
        });
        const qmp = new Qmp(socket);
        await qmp.next(); // the greeting
        await qmp.execute("qmp_capabilities");
        return qmp;
      } catch (error) {
        if (Date.now() > until) throw new QmpError(`no QMP at ${path}: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private next(): Promise<QmpMessage> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async execute(command: string, args?: object): Promise<unknown> {
    const answer = this.next();
    this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    const message = await answer;
    if (message.error) throw new QmpRefusal(`${command}: ${message.error.desc}`);
    return message.return;
  }

  close(): void {
    this.socket.destroy();
  }
}
