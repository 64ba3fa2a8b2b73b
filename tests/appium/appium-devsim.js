// appium-devsim.js: independent client check of devsim with appium-ios-device (no libimobiledevice code)
//
// usage: USBMUXD_SOCKET_ADDRESS=UNIX:/path node appium-devsim.js DEVICE_DIR...
// For every DEVICE_DIR (a devsim phone: device.json + CrashReporter/), checks that the phone is
// listed by usbmuxd, that lockdown reports its ProductType / ProductVersion, and that
// com.apple.crashreportcopymobile lists CrashReporter/ and serves a report byte for byte.
// The attached phones must be exactly the ones given. Exits 0 when all holds, 1 otherwise.
'use strict';

const fs = require('fs');
const path = require('path');
const { utilities, services } = require('appium-ios-device');

const TIMEOUT_MS = 30000;
let failures = 0;

function fail(msg) {
  failures++;
  console.error(`FAIL: ${msg}`);
}

function ok(msg) {
  console.log(`ok: ${msg}`);
}

function withTimeout(promise, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms: ${what}`)),
      TIMEOUT_MS);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function readStream(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function listLocal(dir) {
  return fs.readdirSync(dir).sort();
}

async function checkFile(afc, dev, rel) {
  const local = fs.readFileSync(path.join(dev.dir, 'CrashReporter', rel));
  const info = await withTimeout(afc.getFileInfo(rel), `getFileInfo ${rel}`);
  if (!info.isFile() || Number(info.size) !== local.length) {
    fail(`${dev.udid}: getFileInfo('${rel}') size ${info.size}, file has ${local.length}`);
  }
  // the options object is mandatory in appium-ios-device 3.1.23 (protocol.md section 8)
  const stream = await withTimeout(afc.createReadStream(rel, { autoDestroy: true }),
    `open ${rel}`);
  const got = await withTimeout(readStream(stream), `read ${rel}`);
  if (!got.equals(local)) {
    fail(`${dev.udid}: '${rel}' read ${got.length} bytes that differ from the ${local.length} on disk`);
    return;
  }
  ok(`${dev.udid}: read '${rel}' (${got.length} bytes) byte for byte`);
}

async function checkPhone(dev) {
  const info = await withTimeout(utilities.getDeviceInfo(dev.udid), 'lockdown GetValue');
  if (info.ProductType !== dev.product_type) {
    fail(`${dev.udid}: ProductType '${info.ProductType}', want '${dev.product_type}'`);
  } else {
    ok(`${dev.udid}: ProductType ${info.ProductType}`);
  }
  if (info.ProductVersion !== dev.product_version) {
    fail(`${dev.udid}: ProductVersion '${info.ProductVersion}', want '${dev.product_version}'`);
  }
  if (info.BuildVersion !== undefined && info.BuildVersion !== dev.build_version) {
    fail(`${dev.udid}: BuildVersion '${info.BuildVersion}', want '${dev.build_version}'`);
  }

  const afc = await withTimeout(services.startCrashLogService(dev.udid), 'startCrashLogService');
  try {
    const names = (await withTimeout(afc.listDirectory('/'), 'listDirectory /'))
      .filter((n) => n !== '.' && n !== '..').sort();
    const want = listLocal(path.join(dev.dir, 'CrashReporter'));
    if (JSON.stringify(names) !== JSON.stringify(want)) {
      fail(`${dev.udid}: listDirectory('/') gives ${JSON.stringify(names)}, want ${JSON.stringify(want)}`);
    } else {
      ok(`${dev.udid}: listDirectory('/') lists ${names.length} entries`);
    }
    const report = want.find((n) => /^JetsamEvent-.*\.ips$/.test(n));
    if (!report) {
      fail(`${dev.udid}: no JetsamEvent report in ${dev.dir}/CrashReporter`);
    } else {
      await checkFile(afc, dev, report);
    }
    if (want.includes('Retired')) {
      const sub = (await withTimeout(afc.listDirectory('Retired'), 'listDirectory Retired'))
        .filter((n) => n !== '.' && n !== '..').sort();
      const subWant = listLocal(path.join(dev.dir, 'CrashReporter', 'Retired'));
      if (JSON.stringify(sub) !== JSON.stringify(subWant)) {
        fail(`${dev.udid}: listDirectory('Retired') gives ${JSON.stringify(sub)}, want ${JSON.stringify(subWant)}`);
      } else if (subWant.length > 0) {
        await checkFile(afc, dev, `Retired/${subWant[0]}`);
      }
    }
  } finally {
    afc.close();
  }
}

async function main() {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    console.error('usage: USBMUXD_SOCKET_ADDRESS=UNIX:/path node appium-devsim.js DEVICE_DIR...');
    return 2;
  }
  if (!process.env.USBMUXD_SOCKET_ADDRESS) {
    console.error('appium-devsim: USBMUXD_SOCKET_ADDRESS is not set');
    return 2;
  }
  const devs = dirs.map((dir) => {
    const d = JSON.parse(fs.readFileSync(path.join(dir, 'device.json'), 'utf8'));
    d.dir = dir;
    return d;
  });

  const udids = (await withTimeout(utilities.getConnectedDevices(), 'getConnectedDevices')).sort();
  const want = devs.map((d) => d.udid).sort();
  if (JSON.stringify(udids) !== JSON.stringify(want)) {
    fail(`getConnectedDevices gives ${JSON.stringify(udids)}, want ${JSON.stringify(want)}`);
  } else {
    ok(`getConnectedDevices lists ${udids.length} phone(s)`);
  }
  for (const dev of devs) {
    try {
      await checkPhone(dev);
    } catch (e) {
      fail(`${dev.udid}: ${e && e.message ? e.message : e}`);
    }
  }
  if (failures) {
    console.error(`appium-devsim: ${failures} check(s) failed`);
    return 1;
  }
  console.log('appium-devsim: all checks passed');
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`appium-devsim: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
