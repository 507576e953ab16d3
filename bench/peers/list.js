// node -r ./remap.js list.js: every individual enrollment as one JSON array
// on stdout, written page by page as the SDK's query returns them.
'use strict';
const client = require('./client')();

async function main() {
  const query = client.createIndividualEnrollmentQuery({ query: 'SELECT * FROM enrollments' }, 100);
  const out = process.stdout;
  let first = true;
  out.write('[');
  while (query.hasMoreResults) {
    // The promise form of next() sends no continuation token unless it is
    // given one (the SDK would read the first page forever).
    const page = await query.next(query.continuationToken);
    let chunk = '';
    for (const e of page.responseBody) {
      chunk += (first ? '\n' : ',\n') + JSON.stringify(e, null, 2);
      first = false;
    }
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  out.write(first ? ']\n' : '\n]\n');
}

main().catch((err) => { console.error(err.message || err); process.exit(1); });
