import sharp from 'sharp';

export interface SceneOptions {
  deviceId: string;
  capturedAt: Date;
  place: string;
  /** Scripts the installed fonts lack (the Han province character, for one) are left out of the drawing. */
  plate: string;
  /** An integer; varies vehicle colour and shape, lane and position in it, sky and background, reproducibly. */
  seed: number;
  width?: number;
  height?: number;
}

const PAINTS = ['#d9dcdf', '#1d2638', '#8e1b1b', '#f1f1ef', '#2f4a36', '#3b3d41', '#a9812c', '#1f4f93', '#6d7178', '#101214'];
// Clear noon, haze, overcast, late afternoon: the quality checks should meet more than one exposure.
const SKIES = ['#5d8fc9 #bcd3e8', '#9fb4c6 #dfe5e8', '#8d949b #c4c8cb', '#4f6f9c #e9c79b'];

/** mulberry32, rather than Math.random or libvips noise, so that one seed always gives the same bytes. */
function generator(seed: number): () => number {
  let state = (Math.trunc(seed) ^ 0x5eed1e55) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const f = (value: number): string => value.toFixed(1);

const ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' };

function escapeXml(text: string): string {
  // Control characters are not allowed in XML 1.0 at all, escaped or not, and would make librsvg reject the frame.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[<>&'"]/g, (c) => ENTITIES[c]!);
}

function shade(hex: string, factor: number): string {
  const channels = [1, 3, 5].map((i) => Math.min(255, Math.round(parseInt(hex.slice(i, i + 2), 16) * factor)));
  return `rgb(${channels.join(',')})`;
}

/**
 * librsvg ignores textLength, so the size is worked out from DejaVu Sans Bold's advances (about 0.72 em for capitals
 * and digits), and the glyphs are narrowed the way plate typefaces are. Scripts that font lacks, such as the Han
 * province character, are left out rather than drawn as boxes; the manifest carries the authoritative plate.
 */
function plateText(plate: string): string {
  const shown = plate.replace(/[^\p{Script=Latin}\p{Script=Common}\p{Script=Greek}\p{Script=Cyrillic}]/gu, '').trim();
  const ems = [...shown].reduce((sum, c) => sum + (/[\p{L}\p{N}]/u.test(c) ? 0.72 : 0.4), 0);
  const squeeze = 0.8;
  const size = Math.min(8.4, 31 / (Math.max(ems, 1) * squeeze));
  return `<text transform="scale(${squeeze} 1)" x="0" y="${f(-30.75 + size * 0.36)}" font-family="sans-serif" font-weight="bold" font-size="${size.toFixed(2)}" fill="#111" text-anchor="middle">${escapeXml(shown)}</text>`;
}

const GRAIN = 256;
let grain: Int8Array | undefined;

/** One tile of sensor noise, made once and shifted per frame: drawing 200,000 fresh samples every frame is not worth it. */
function grainTile(): Int8Array {
  if (grain) return grain;
  const random = generator(0x6a09e667);
  grain = Int8Array.from({ length: GRAIN * GRAIN * 3 }, () => Math.round((random() + random() + random() - 1.5) * 8));
  return grain;
}

/**
 * A vehicle seen from behind, drawn 100 units wide with its origin at the middle of the ground line, so the
 * caller places and sizes it with one transform that follows the road's perspective.
 */
function vehicle(id: string, x: number, ground: number, width: number, paint: string, tall: boolean, plate?: string): string {
  const roof = tall ? -92 : -78;
  return `<g transform="translate(${f(x)} ${f(ground)}) scale(${(width / 100).toFixed(4)})">
  <linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${shade(paint, 1.18)}"/><stop offset="0.5" stop-color="${paint}"/><stop offset="1" stop-color="${shade(paint, 0.55)}"/></linearGradient>
  <ellipse cx="0" cy="-1" rx="58" ry="5" fill="#000" opacity="0.5"/>
  <rect x="-47" y="-15" width="16" height="15" rx="3" fill="#121212"/><rect x="31" y="-15" width="16" height="15" rx="3" fill="#121212"/>
  <rect x="-56" y="-58" width="8" height="5" rx="2" fill="${shade(paint, 0.7)}"/><rect x="48" y="-58" width="8" height="5" rx="2" fill="${shade(paint, 0.7)}"/>
  <path d="M -41 -50 L -32 ${roof} Q 0 ${roof - 3} 32 ${roof} L 41 -50 Z" fill="url(#${id})"/>
  <path d="M -36 -53 L -29 ${roof + 4} Q 0 ${roof + 1.5} 29 ${roof + 4} L 36 -53 Z" fill="#18212b"/>
  <path d="M -20 -53 L -5 ${roof + 4} L 6 ${roof + 4} L -9 -53 Z" fill="#fff" opacity="0.09"/>
  <rect x="-6" y="${roof + 1.2}" width="12" height="1.6" fill="#b3141b"/>
  <rect x="-50" y="-53" width="100" height="42" rx="7" fill="url(#${id})"/>
  <path d="M -44 -45 L 44 -45" stroke="${shade(paint, 0.6)}" stroke-width="0.6"/>
  <path d="M -49 -48 L -29 -48 L -31 -39 L -49 -38 Z" fill="#c41a1a"/><path d="M 49 -48 L 29 -48 L 31 -39 L 49 -38 Z" fill="#c41a1a"/>
  <path d="M -48 -47 L -36 -47 L -37 -44 L -48 -44 Z" fill="#ff8a7a" opacity="0.6"/><path d="M 48 -47 L 36 -47 L 37 -44 L 48 -44 Z" fill="#ff8a7a" opacity="0.6"/>
  <ellipse cx="0" cy="-42" rx="3.5" ry="1.8" fill="none" stroke="#c9ccd0" stroke-width="0.7"/>
  <rect x="-48" y="-19" width="96" height="8" rx="3" fill="#1a1a1a" opacity="0.85"/>
  <rect x="-17" y="-36.5" width="34" height="11.5" rx="1.5" fill="#f4f2e8" stroke="#1c1c1c" stroke-width="0.8"/>
  ${plate === undefined ? '' : plateText(plate)}
</g>`;
}

/**
 * A roadside enforcement frame: a multi-lane road in perspective, the offending vehicle from behind with its
 * plate, and the camera's data overlay. Reviewers and the quality checks downstream need something that
 * behaves like a photograph (edges, text, exposure, sensor grain), not flat art.
 */
export async function renderScene(options: SceneOptions): Promise<Buffer> {
  const width = options.width ?? 1920;
  const height = options.height ?? 1080;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 64 || height < 64) {
    throw new RangeError(`scene size must be whole pixels, at least 64×64: ${width}×${height}`);
  }
  const random = generator(options.seed);
  const horizon = height * 0.42;
  const depth = height - horizon;
  const vanishX = width / 2;
  // A pinhole camera: one ground unit at relative distance z (z = 1 on the bottom row) spans 1/z as much.
  const laneAtBottom = width * 0.6;
  const rowAt = (z: number): number => horizon + depth / z;
  const xAt = (lane: number, z: number): number => vanishX + (lane * laneAtBottom) / z;
  const corner = (lane: number, z: number): string => `${f(xAt(lane, z))},${f(rowAt(z))}`;
  // A band of constant ground width (a painted line, a shoulder, the road) between two distances.
  const quad = (lane: number, half: number, near: number, far: number): string =>
    `${corner(lane - half, near)} ${corner(lane + half, near)} ${corner(lane + half, far)} ${corner(lane - half, far)}`;

  const [skyTop, skyLow] = SKIES[Math.floor(random() * SKIES.length)]!.split(' ');
  const treeTop = (i: number): string => `${f((i * width) / 40)},${f(horizon - height * (0.025 + random() * 0.035))}`;
  const treeLine = Array.from({ length: 41 }, (_, i) => treeTop(i)).join(' ');
  const buildings = Array.from({ length: 5 }, () => {
    const w = width * (0.03 + random() * 0.05);
    const h = height * (0.06 + random() * 0.1);
    const x = random() < 0.5 ? random() * width * 0.3 : width * (0.68 + random() * 0.3);
    return `<rect x="${f(x)}" y="${f(horizon - h)}" width="${f(w)}" height="${f(h)}" fill="#8f9aa5" opacity="0.8"/>`;
  }).join('');

  // Chinese expressway dashes: 6 m of paint, 9 m of gap; the bottom row is about 12 m from the camera.
  const phase = random() * 1.25;
  const dashes: string[] = [];
  for (const lane of [-1, 0, 1]) {
    for (let near = 1 - phase; near < 60; near += 1.25) {
      if (rowAt(Math.max(near, 0.2)) - rowAt(near + 0.5) < 0.6) break;
      dashes.push(`<polygon points="${quad(lane, 0.04, Math.max(near, 0.2), near + 0.5)}" fill="#eceae2"/>`);
    }
  }
  const posts = [1.4, 2.2, 3.5, 5.5, 9, 15].map((z) => {
    const x = xAt(-2.5, z);
    const top = rowAt(z) - (2.6 * laneAtBottom) / z;
    const unit = laneAtBottom / z;
    return `<path d="M ${f(x)} ${f(rowAt(z))} L ${f(x)} ${f(top)} L ${f(x + unit * 0.7)} ${f(top + unit * 0.05)}" fill="none" stroke="#4b5056" stroke-width="${f(unit * 0.05)}"/><rect x="${f(x + unit * 0.6)}" y="${f(top)}" width="${f(unit * 0.22)}" height="${f(unit * 0.07)}" fill="#2e3136"/>`;
  });

  const lane = random() < 0.5 ? -0.5 : 0.5;
  const offset = (random() - 0.5) * 0.16;
  const carZ = 1 / (0.74 + random() * 0.14);
  const paint = PAINTS[Math.floor(random() * PAINTS.length)]!;
  const tall = random() < 0.35;
  const farZ = 2.6 + random() * 3;
  const farPaint = PAINTS[Math.floor(random() * PAINTS.length)]!;
  const farX = xAt(-lane + (random() - 0.5) * 0.1, farZ);
  // A car is about half a lane wide; the far one, in the other lane, is there in most frames as on a real road.
  const farCar = random() < 0.7 ? vehicle('far', farX, rowAt(farZ), (0.5 * laneAtBottom) / farZ, farPaint, random() < 0.3) : '';
  const car = vehicle('car', xAt(lane + offset, carZ), rowAt(carZ), (0.5 * laneAtBottom) / carZ, paint, tall, options.plate);

  const bar = Math.round(height * 0.05);
  const overlay = [options.deviceId, options.capturedAt.toISOString(), options.place].map(escapeXml).join('   |   ');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs>
  <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${skyTop}"/><stop offset="1" stop-color="${skyLow}"/></linearGradient>
  <linearGradient id="asphalt" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#7b7e82"/><stop offset="1" stop-color="#3d4044"/></linearGradient>
  <linearGradient id="verge" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#75805f"/><stop offset="1" stop-color="#4c5a36"/></linearGradient>
</defs>
<rect width="${width}" height="${f(horizon)}" fill="url(#sky)"/>
${buildings}
<polygon points="0,${f(horizon + 1)} ${treeLine} ${width},${f(horizon + 1)}" fill="#3f4f3a"/>
<rect y="${f(horizon)}" width="${width}" height="${f(depth)}" fill="url(#verge)"/>
<polygon points="${quad(0, 2.35, 1, 400)}" fill="url(#asphalt)"/>
<polygon points="${quad(-2.35, 0.08, 1, 400)}" fill="#9a9890"/><polygon points="${quad(2.35, 0.08, 1, 400)}" fill="#9a9890"/>
<polygon points="${quad(-2, 0.05, 1, 400)}" fill="#eceae2"/><polygon points="${quad(2, 0.05, 1, 400)}" fill="#eceae2"/>
${dashes.join('')}
<polygon points="${quad(2.55, 0.03, 1, 400)}" fill="#b7bbbf"/>
${posts.join('')}
${farCar}
${car}
<rect width="${width}" height="${bar}" fill="#000" opacity="0.62"/>
<text x="${Math.round(bar * 0.5)}" y="${f(bar * 0.7)}" font-family="sans-serif" font-size="${Math.round(bar * 0.52)}" fill="#fff" xml:space="preserve">${overlay}</text>
</svg>`;

  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // Vignette and grain make the frame compress and measure like a photograph rather than flat art. They are applied
  // here in integer arithmetic: a radial gradient in SVG or a sharp composite costs several times as much, and
  // libvips noise is reseeded on every call, which would make frames irreproducible.
  const noise = grainTile();
  const [shiftX, shiftY] = [Math.floor(random() * GRAIN), Math.floor(random() * GRAIN)];
  const falloff = (i: number, n: number): number => Math.round(256 * (1 - 0.16 * ((2 * i) / n - 1) ** 4));
  const columns = Int32Array.from({ length: width }, (_, x) => falloff(x, width));
  const stride = info.channels;
  // The overlay is burned in after the sensor pipeline, so its rows stay crisp.
  for (let y = bar, i = bar * width * stride; y < height; y++) {
    const row = falloff(y, height);
    const noiseRow = ((y + shiftY) & (GRAIN - 1)) * GRAIN * 3;
    for (let x = 0; x < width; x++, i += stride - 3) {
      const gain = (row * columns[x]!) >> 8;
      const n = noiseRow + ((x + shiftX) & (GRAIN - 1)) * 3;
      for (let c = 0; c < 3; c++, i++) {
        const value = ((data[i]! * gain) >> 8) + noise[n + c]!;
        data[i] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
  }
  return sharp(data, { raw: { width, height, channels: stride } })
    .jpeg({ quality: 85 })
    .toBuffer();
}
