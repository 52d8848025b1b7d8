#!/usr/bin/env node
// clauderon's relay inside a remote session (a sprite, a pod): see clauderon-backend's
// tunnel.rs. It listens on the session's loopback, where HTTPS_PROXY points, and carries each
// connection as frames over stdout/stdin to the daemon, which holds this process's exec stream
// open and connects each one to its credential proxy, nowhere else.
// Frame: kind (1 byte) | connection (4, big-endian) | length (2) | payload.
// Kinds: 1 open, 2 data, 3 close, 4 ready. Usage: node relay.js PORT [READY_FILE]
'use strict';
const net = require('net');
const fs = require('fs');

const OPEN = 1, DATA = 2, CLOSE = 3, READY = 4;
const port = Number(process.argv[2] || 3128);
const readyFile = process.argv[3];
const conns = new Map();
let counter = 0;

function send(kind, conn, payload) {
  const body = payload || Buffer.alloc(0);
  const head = Buffer.alloc(7);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(conn, 1);
  head.writeUInt16BE(body.length, 5);
  process.stdout.write(Buffer.concat([head, body]));
}

const server = net.createServer((socket) => {
  counter += 1;
  const id = counter;
  let closedOut = false;
  socket.setNoDelay(true);
  conns.set(id, socket);
  send(OPEN, id);
  socket.on('data', (data) => {
    for (let i = 0; i < data.length; i += 65535) send(DATA, id, data.subarray(i, i + 65535));
  });
  // The client is done sending: tell the daemon, keep the socket for the answer.
  socket.on('end', () => {
    if (!closedOut) { closedOut = true; send(CLOSE, id); }
  });
  socket.on('close', () => {
    if (!closedOut) { closedOut = true; send(CLOSE, id); }
    conns.delete(id);
  });
  socket.on('error', () => {});
});

// A relay left by a daemon that went may hold the port a few seconds more.
const deadline = Date.now() + 30000;
server.on('error', (e) => {
  if (e.code === 'EADDRINUSE' && Date.now() < deadline) {
    setTimeout(() => server.listen(port, '127.0.0.1'), 500);
  } else {
    process.stderr.write(`relay: ${e.message}\n`);
    process.exit(1);
  }
});
server.on('listening', () => {
  if (readyFile) fs.writeFileSync(readyFile, String(port));
  send(READY, 0, Buffer.from(String(port)));
});
server.listen(port, '127.0.0.1');

let pending = Buffer.alloc(0);
process.stdin.on('data', (data) => {
  pending = Buffer.concat([pending, data]);
  while (pending.length >= 7) {
    const length = pending.readUInt16BE(5);
    if (pending.length < 7 + length) break;
    const kind = pending.readUInt8(0);
    const id = pending.readUInt32BE(1);
    const payload = pending.subarray(7, 7 + length);
    pending = pending.subarray(7 + length);
    const socket = conns.get(id);
    if (!socket) continue;
    if (kind === DATA) socket.write(payload);
    else if (kind === CLOSE) socket.end();
  }
});
// The daemon went: so does the relay (and every connection with it).
process.stdin.on('end', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
