// Preloaded with `node -r ./remap.js`. The official SDKs dial the
// connection string's HostName on port 443 and take no port or agent
// option, so this sends every HTTPS connection of the process to
// DPSCTL_PEER_ADDR (host:port) instead. SNI, the Host header and the SAS
// audience keep the HostName, exactly as they would against Azure.
'use strict';
const https = require('https');
const tls = require('tls');

const addr = process.env.DPSCTL_PEER_ADDR;
if (!addr) throw new Error('DPSCTL_PEER_ADDR (host:port) is not set');
const i = addr.lastIndexOf(':');
const host = addr.slice(0, i);
const port = Number(addr.slice(i + 1));

https.globalAgent.createConnection = (options) => tls.connect({ ...options, host, port });
