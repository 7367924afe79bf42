// npm itself may run on an older Node; the project runs on the Node 22 that `npm ci` installs
// into node_modules/.bin, which `npm run` puts first on PATH.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `This project needs Node 22 or later, but found ${process.version}. ` +
      'Run `npm ci` first (it installs Node 22 locally), then use `npm run ...`.',
  );
  process.exit(1);
}
