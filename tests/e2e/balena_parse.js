// Runs balena's own compose parser (npm @balena/compose 7.x, what `balena push` and `balena build` use) on a
// compose file: prints the normalized composition as JSON, or "REJECTED <message>" and exits 1.
const fs = require('fs');
const yaml = require('js-yaml');
const compose = require('@balena/compose');

try {
  const normalized = compose.parse.normalize(yaml.load(fs.readFileSync(process.argv[2], 'utf8')));
  process.stdout.write(JSON.stringify(normalized));
} catch (error) {
  process.stdout.write(`REJECTED ${error.name}: ${error.message}`);
  process.exit(1);
}
