// node -r ./remap.js show.js ID: one individual enrollment as JSON.
'use strict';
const client = require('./client')();

client.getIndividualEnrollment(process.argv[2])
  .then((res) => process.stdout.write(JSON.stringify(res.responseBody, null, 2) + '\n'))
  .catch((err) => { console.error(err.message || err); process.exit(1); });
