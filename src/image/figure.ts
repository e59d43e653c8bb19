import type { Pixels } from './preprocess.js';
import { localResource } from '../runtime/env.js';
import { jimpFromRgb } from './jimp.js';

export interface FigureColumn {
  readonly title: string;
  readonly top: Pixels;
  readonly bottom?: Pixels;
}

const TILE = 224;
const GAP = 12;
const HEADER = 44;
const TITLE = 26;

/**
 * The seed's figure in one PNG: a header line, then one column per entry (title, picture above,
 * picture below), tiles scaled to a common height. jimp draws and prints; this is the Node adapter's job.
 */
export async function renderFigure(header: string, columns: readonly FigureColumn[]): Promise<Uint8Array> {
  const { Jimp, loadFont, measureText, HorizontalAlign } = await import('jimp');
  const { SANS_16_BLACK, SANS_32_BLACK } = await import('jimp/fonts');
  const [small, large] = await Promise.all([loadFont(await localResource(SANS_16_BLACK)), loadFont(await localResource(SANS_32_BLACK))]);
  const toJimp = async (px: Pixels) => (await jimpFromRgb(px)).resize({ w: Math.max(1, Math.round((px.width * TILE) / px.height)), h: TILE });
  const tiles = await Promise.all(columns.map(async (c) => ({ title: c.title, top: await toJimp(c.top), bottom: c.bottom ? await toJimp(c.bottom) : undefined })));
  // As wide as the tiles, or as the header line when it is wider (one layer: two tiles).
  const width = Math.max(GAP + tiles.reduce((w, t) => w + t.top.bitmap.width + GAP, 0), 2 * GAP + measureText(large, header));
  const height = HEADER + TITLE + TILE + GAP + TILE + GAP;
  const figure = new Jimp({ width, height, color: 0xffffffff });
  figure.print({ font: large, x: GAP, y: 4, text: header });
  let x = GAP;
  for (const t of tiles) {
    const w = t.top.bitmap.width;
    figure.print({ font: small, x, y: HEADER + 2, text: { text: t.title, alignmentX: HorizontalAlign.CENTER }, maxWidth: w });
    figure.composite(t.top, x, HEADER + TITLE);
    if (t.bottom) figure.composite(t.bottom, x, HEADER + TITLE + TILE + GAP);
    x += w + GAP;
  }
  return new Uint8Array(await figure.getBuffer('image/png'));
}
