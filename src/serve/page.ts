import { CAM_METHODS } from '../methods/index.js';

/**
 * GET /: one static page, no build step. It posts the chosen image to /explain (format=json with
 * the overlay) and shows the overlay and the top-5 classes.
 */
export const FORM_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradcam serve</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
  form { display: grid; grid-template-columns: 9rem 1fr; gap: .5rem 1rem; align-items: center; }
  button { grid-column: 2; justify-self: start; padding: .3rem 1.2rem; }
  #out { display: flex; gap: 2rem; margin-top: 1.5rem; flex-wrap: wrap; }
  #out img { max-width: 26rem; }
  .error { color: #b00020; }
  td { padding: 0 .8rem 0 0; }
</style>
</head>
<body>
<h1>Grad-CAM</h1>
<form id="form">
  <label for="image">Image (PNG, JPEG)</label> <input id="image" name="image" type="file" accept="image/png,image/jpeg" required>
  <label for="layers">Layers</label> <input id="layers" name="layers" placeholder="the model's default">
  <label for="target">Target class</label> <input id="target" name="target" placeholder="the top-1 class (an index or a name)">
  <label for="method">Method</label>
  <select id="method" name="method">${Object.keys(CAM_METHODS).map((m) => `<option>${m}</option>`).join('')}</select>
  <button>Explain</button>
</form>
<p id="status"></p>
<div id="out"></div>
<script>
const form = document.getElementById('form');
const status = document.getElementById('status');
const out = document.getElementById('out');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  for (const [k, v] of [...data]) if (v === '') data.delete(k);
  status.textContent = 'explaining...';
  status.className = '';
  out.replaceChildren();
  try {
    const res = await fetch('explain?format=json&overlay=1', { method: 'POST', body: data });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error.message + ' [' + body.error.code + ']');
    status.textContent = 'class ' + body.target.index + ' (' + (body.target.label ?? '?') + '), ' + body.ms + ' ms';
    const img = document.createElement('img');
    img.src = 'data:image/png;base64,' + body.overlay;
    img.alt = 'Grad-CAM overlay';
    const table = document.createElement('table');
    for (const p of body.top5) {
      const row = table.insertRow();
      row.insertCell().textContent = (100 * p.probability).toFixed(1) + '%';
      row.insertCell().textContent = p.label ?? 'class ' + p.index;
    }
    out.append(img, table);
  } catch (err) {
    status.textContent = err.message;
    status.className = 'error';
  }
});
</script>
</body>
</html>
`;
