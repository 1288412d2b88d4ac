// The protected assets the page loads, from the page's data attributes (set by demo.py).
const IMAGE = document.body.dataset.image, STYLESHEET = document.body.dataset.stylesheet;
const results = {};
function step(name, ok, detail) {
  results[name] = ok;
  const li = document.createElement("li");
  li.id = "step-" + name;
  li.className = ok ? "ok" : "blocked";
  li.textContent = detail + ": " + (ok ? "loaded" : "blocked");
  document.getElementById("steps").append(li);
}
function loadImage(id) {
  return new Promise(done => {
    const img = new Image();
    img.id = id;
    img.alt = id;
    img.onload = () => done(true);
    img.onerror = () => done(false);
    img.src = IMAGE + "?step=" + id;
    document.getElementById("images").append(img);
  });
}
function loadStylesheet(id) {
  return new Promise(done => {
    const link = document.createElement("link");
    link.id = id;
    link.rel = "stylesheet";
    link.onload = () => done(true);
    link.onerror = () => { link.remove(); done(false); };
    link.href = STYLESHEET + "?step=" + id;
    document.head.append(link);
  });
}
async function run() {
  step("image-before", await loadImage("image-before"), "1. protected image, no cookie yet");
  step("css-before", await loadStylesheet("css-before"), "1. protected stylesheet, no cookie yet");
  const issued = await (await fetch("/api/auth/token?sub=user:default/alice")).json();
  const api = await fetch("/api/catalog/entities",
                          {headers: {Authorization: "Bearer " + issued.token}});
  document.getElementById("identity").textContent = JSON.stringify(await api.json(), null, 2);
  step("api", api.ok, "2. API call with the Authorization header (status " + api.status + ")");
  step("image-after", await loadImage("image-after"), "3. the same image, cookie only");
  step("css-after", await loadStylesheet("css-after"), "3. the same stylesheet, cookie only");
  document.body.dataset.done = "yes";
}
run().catch(error => {
  step("error", false, String(error));
  document.body.dataset.done = "yes";
});
