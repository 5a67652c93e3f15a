// Writes to an Ignite cache with the Node.js thin client (npm apache-ignite-client 1.0.0).
// Usage: node write.mjs <port> <cache>
// Operations, in order: put(1,"one") put(2,"two") put(1,"uno") remove(2)
//                       put(10, node.Person{id:10, name:"Ada", tags:["a","b"], score:1.5})
// Prints "ok" on success; exits non-zero on error.
import IgniteClient from 'apache-ignite-client';

const { IgniteClientConfiguration, ObjectType, ComplexObjectType } = IgniteClient;

const [port, cacheName] = process.argv.slice(2);
if (!port || !cacheName) {
  console.error('usage: node write.mjs <port> <cache>');
  process.exit(2);
}

class Person {
  constructor(id = 0, name = null, tags = null, score = 0) {
    this.id = id;
    this.name = name;
    this.tags = tags;
    this.score = score;
  }
}

const client = new IgniteClient();
try {
  await client.connect(new IgniteClientConfiguration(`127.0.0.1:${port}`));
  const strings = client.getCache(cacheName)
    .setKeyType(ObjectType.PRIMITIVE_TYPE.INTEGER)
    .setValueType(ObjectType.PRIMITIVE_TYPE.STRING);
  await strings.put(1, 'one');
  await strings.put(2, 'two');
  await strings.put(1, 'uno');
  await strings.removeKey(2);

  const personType = new ComplexObjectType(new Person(), 'node.Person')
    .setFieldType('id', ObjectType.PRIMITIVE_TYPE.INTEGER)
    .setFieldType('name', ObjectType.PRIMITIVE_TYPE.STRING)
    .setFieldType('tags', ObjectType.PRIMITIVE_TYPE.STRING_ARRAY)
    .setFieldType('score', ObjectType.PRIMITIVE_TYPE.DOUBLE);
  const people = client.getCache(cacheName)
    .setKeyType(ObjectType.PRIMITIVE_TYPE.INTEGER)
    .setValueType(personType);
  await people.put(10, new Person(10, 'Ada', ['a', 'b'], 1.5));
  console.log('ok');
} catch (err) {
  console.error('ERROR: ' + (err && err.stack ? err.stack : err));
  process.exitCode = 1;
} finally {
  client.disconnect();
}
