/**
 * Bounds on open TCP connections: one process-wide cap, and one per client address so that a single
 * host cannot hold every slot (slow bodies, idle keep-alives, hoarded sockets). Behind a trusted
 * proxy every connection comes from the proxy, so the per-address cap is left to the proxy there.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  maxConnections: number;
  /** 0 turns the per-address cap off. */
  maxConnectionsPerIp: number;
}

export function limitConnections(server: Server, limits: ConnectionLimits): void {
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  if (limits.maxConnectionsPerIp <= 0) return;
  const open = new Map<string, number>();
  // A socket can be announced twice (an upgrade replayed as plain HTTP); it is counted once.
  const counted = new WeakSet<Socket>();
  server.prependListener('connection', (socket: Socket) => {
    if (counted.has(socket)) return;
    const ip = socket.remoteAddress ?? '';
    const count = open.get(ip) ?? 0;
    if (count >= limits.maxConnectionsPerIp) {
      // Before any byte is read: the cheapest refusal there is.
      socket.destroy();
      return;
    }
    counted.add(socket);
    open.set(ip, count + 1);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}
