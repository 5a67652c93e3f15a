// Writes synchub documents into a collection's data cache with the Node.js thin client
// (npm apache-ignite-client), as a non-hub application would. Used by tests/integration.
// Usage: node docwrite.mjs <port> <cache> <value type>   (JSON on stdin)
// stdin: {"puts": [[id, v, s], ...], "removes": [id, ...]}
// Values are binary objects of <value type> with fields v (long) and s (string); keys are strings.
// Prints "ok <puts> <removes>" on success; exits non-zero on error.
import IgniteClient from 'apache-ignite-client';

const { IgniteClientConfiguration, ObjectType, ComplexObjectType, CacheEntry } = IgniteClient;

const [port, cacheName, typeName] = process.argv.slice(2);
if (!port || !cacheName || !typeName) {
  console.error('usage: node docwrite.mjs <port> <cache> <value type> < ops.json');
  process.exit(2);
}

class Doc {
  constructor(v = 0, s = '') {
    this.v = v;
    this.s = s;
  }
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const ops = JSON.parse(input);

const client = new IgniteClient();
try {
  await client.connect(new IgniteClientConfiguration(`127.0.0.1:${port}`));
  const docType = new ComplexObjectType(new Doc(), typeName)
    .setFieldType('v', ObjectType.PRIMITIVE_TYPE.LONG)
    .setFieldType('s', ObjectType.PRIMITIVE_TYPE.STRING);
  const cache = client.getCache(cacheName)
    .setKeyType(ObjectType.PRIMITIVE_TYPE.STRING)
    .setValueType(docType);
  const puts = ops.puts || [];
  for (let i = 0; i < puts.length; i += 500) {
    await cache.putAll(puts.slice(i, i + 500).map(([id, v, s]) => new CacheEntry(id, new Doc(v, s))));
  }
  const removes = ops.removes || [];
  for (let i = 0; i < removes.length; i += 500) {
    await cache.removeKeys(removes.slice(i, i + 500));
  }
  console.log(`ok ${puts.length} ${removes.length}`);
} catch (err) {
  console.error('ERROR: ' + (err && err.stack ? err.stack : err));
  process.exitCode = 1;
} finally {
  client.disconnect();
}
