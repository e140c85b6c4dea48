/**
 * The ceiling GoChat is measured against: a bare `ws` relay speaking GoChat's frames
 * (`send-message` -> `message-ack` to the sender + `new-message` to every other connection
 * in the conversation, `ping` -> `pong`) with no auth, no validation and no storage.
 * It is written the plain way a relay is written: parse, route, send.
 *
 * Setup differs from GoChat because there is no API: a client names itself with `?userId=`
 * and enters conversations with a `join {conversationId}` frame (answered by `joined`).
 *
 * Run: `node dist/bench/baseline-relay.js` (PORT=0 picks a free port); prints a JSON
 * `{"msg":"listening","port":N}` line like GoChat's logger.
 */
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

interface ClientFrame {
  type: string;
  data?: { conversationId?: string; content?: string; messageType?: string; tempMessageId?: string };
}

const conversations = new Map<string, { lastSeq: number; sockets: Set<WebSocket> }>();
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
      ws.send('{"type":"pong"}');
    } else if (frame.type === 'send-message' && frame.data?.conversationId) {
      const { conversationId, content = '', messageType = 'text', tempMessageId = '' } = frame.data;
      const target = conversation(conversationId);
      const seqId = ++target.lastSeq;
      const messageId = String(++nextMessageId);
      const sendTime = new Date().toISOString();
      ws.send(JSON.stringify({ type: 'message-ack', data: { tempMessageId, messageId, conversationId, seqId, sendTime } }));
      const out = JSON.stringify({
        type: 'new-message',
        data: { messageId, conversationId, senderId: userId, senderName, content, messageType, seqId, sendTime },
      });
      for (const socket of target.sockets) if (socket !== ws) socket.send(out);
    } else if (frame.type === 'join' && frame.data?.conversationId) {
      conversation(frame.data.conversationId).sockets.add(ws);
      joined.add(frame.data.conversationId);
      ws.send(JSON.stringify({ type: 'joined', data: { conversationId: frame.data.conversationId } }));
    }
  });
  ws.on('close', () => {
    for (const id of joined) conversations.get(id)?.sockets.delete(ws);
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
