// node -r ./remap.js bulk.js FILE.jsonl: creates the enrollments of a JSON
// Lines file of wire models with bulk operations of 10, 32 in flight, the
// way a hand-written SDK import script does it. Exits 1 if any item failed.
'use strict';
const fs = require('fs');
const readline = require('readline');
const client = require('./client')();

const BATCH = 10;
const IN_FLIGHT = 32;

async function main() {
  const lines = readline.createInterface({ input: fs.createReadStream(process.argv[2]), crlfDelay: Infinity });
  const running = new Set();
  let batch = [];
  let failed = 0;
  let created = 0;
  const send = (enrollments) => {
    // The SDK's promise form of this call never settles (1.11.2 answers
    // only a callback), so the callback form is wrapped here.
    const p = new Promise((resolve, reject) => {
      client.runBulkEnrollmentOperation({ mode: 'create', enrollments }, (err, result) => {
        if (err) return reject(err);
        const errs = result.errors || [];
        failed += errs.length;
        created += enrollments.length - errs.length;
        resolve();
      });
    }).finally(() => running.delete(p));
    running.add(p);
    return p;
  };
  for await (const line of lines) {
    if (!line) continue;
    batch.push(JSON.parse(line));
    if (batch.length === BATCH) {
      send(batch);
      batch = [];
      if (running.size >= IN_FLIGHT) await Promise.race(running);
    }
  }
  if (batch.length) send(batch);
  await Promise.all(running);
  console.error(`created ${created}, failed ${failed}`);
  if (failed) process.exit(1);
}

main().catch((err) => { console.error(err.message || err); process.exit(1); });
