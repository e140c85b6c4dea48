/**
 * The ceiling GoChat is measured against: a bare `ws` relay speaking GoChat's frames
 * (`send-message` -> `message-ack` to the sender + `new-message` to every other connection
 * in the conversation, `ping` -> `pong`) with no auth, no validation and no storage.
 * It is written the way a careful Node engineer writes a relay: parse, route, send, with the two
 * write-path techniques GoChat itself uses, so the ratios compare like with like (issue 12):
 * - each connection's TCP socket is corked at its first frame of an event-loop turn and all are
 *   uncorked together at the end of the turn: one writev per connection per turn;
 * - a frame for many recipients is encoded once, into one Buffer every recipient's send shares.
 * `BENCH_RELAY_WRITES=plain` turns both off (one write per frame, a string per send): the relay as
 * the bench measured it before, kept to show what the two techniques are worth.
 *
 * Setup differs from GoChat because there is no API: a client names itself with `?userId=`
 * and enters conversations with a `join {conversationId}` frame (answered by `joined`).
 *
 * Run: `node dist/bench/baseline-relay.js` (PORT=0 picks a free port); prints a JSON
 * `{"msg":"listening","port":N}` line like GoChat's logger.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

const CORKED = process.env.BENCH_RELAY_WRITES !== 'plain';
const TEXT_FRAME = { binary: false } as const;

/** Sockets corked in this event-loop turn, uncorked together at its end (as GoChat's connection.ts). */
const corked: Duplex[] = [];
const corkedSet = new WeakSet<Duplex>();

function flushCorked(): void {
  for (const socket of corked.splice(0)) {
    corkedSet.delete(socket);
    socket.uncork();
  }
}

/** Sends one text frame; `transport` is the TCP socket under `ws`. */
function send(ws: WebSocket, transport: Duplex, frame: string | Buffer): void {
  if (CORKED && !corkedSet.has(transport)) {
    corkedSet.add(transport);
    transport.cork();
    if (corked.push(transport) === 1) setImmediate(flushCorked);
  }
  ws.send(frame, TEXT_FRAME);
}

interface ClientFrame {
  type: string;
  data?: { conversationId?: string; content?: string; messageType?: string; tempMessageId?: string };
}

interface Member {
  ws: WebSocket;
  transport: Duplex;
}

const conversations = new Map<string, { lastSeq: number; sockets: Set<Member> }>();
let nextMessageId = 0;

function conversation(id: string) {
  let entry = conversations.get(id);
  if (!entry) {
    entry = { lastSeq: 0, sockets: new Set() };
    conversations.set(id, entry);
  }
  return entry;
}

const server = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 1024 * 1024 });

wss.on('connection', (ws, req) => {
  const me: Member = { ws, transport: req.socket };
  const userId = new URL(req.url ?? '/', 'http://localhost').searchParams.get('userId') ?? '0';
  const senderName = `user${userId}`;
  const joined = new Set<string>();
  ws.on('message', (raw) => {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(raw.toString()) as ClientFrame;
    } catch {
      return;
    }
    if (frame.type === 'ping') {
      send(ws, me.transport, '{"type":"pong"}');
    } else if (frame.type === 'send-message' && frame.data?.conversationId) {
      const { conversationId, content = '', messageType = 'text', tempMessageId = '' } = frame.data;
      const target = conversation(conversationId);
      const seqId = ++target.lastSeq;
      const messageId = String(++nextMessageId);
      const sendTime = new Date().toISOString();
      send(ws, me.transport, JSON.stringify({ type: 'message-ack', data: { tempMessageId, messageId, conversationId, seqId, sendTime } }));
      const text = JSON.stringify({
        type: 'new-message',
        data: { messageId, conversationId, senderId: userId, senderName, content, messageType, seqId, sendTime },
      });
      const out = CORKED ? Buffer.from(text) : text;
      for (const member of target.sockets) if (member !== me) send(member.ws, member.transport, out);
    } else if (frame.type === 'join' && frame.data?.conversationId) {
      conversation(frame.data.conversationId).sockets.add(me);
      joined.add(frame.data.conversationId);
      send(ws, me.transport, JSON.stringify({ type: 'joined', data: { conversationId: frame.data.conversationId } }));
    }
  });
  ws.on('close', () => {
    for (const id of joined) conversations.get(id)?.sockets.delete(me);
  });
  ws.on('error', () => ws.terminate());
});

const port = Number(process.env.PORT ?? 0);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  console.log(JSON.stringify({ level: 30, msg: 'listening', port: bound }));
});

const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
