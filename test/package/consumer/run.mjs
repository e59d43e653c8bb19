import { run } from './out/consumer.js';
console.log(await run(process.argv[2]));
