"use strict";
/* codesearch's search page. The state lives in the URL, so a result can be shared; every text
 * from the index is untrusted and reaches the page through textContent only; a token the user
 * enters stays in this tab (sessionStorage) and goes with every API call. */

const TOKEN_KEY = "codesearch.token";
const SNIPPET_LINES = 30;
const FILE_CONTEXT = 500;
const TYPING_PAUSE_MS = 250;
const PLAIN = new Set(["markdown", "text", "rst", ""]);
const HASH_COMMENTS = new Set([
  "python", "ruby", "bash", "perl", "yaml", "toml", "make", "elixir", "julia", "powershell", "nix", "starlark", "hcl", "r",
]);
const DASH_COMMENTS = new Set(["sql", "lua", "haskell"]);
const KEYWORDS = new Set((
  "abstract as async await break case catch class const continue def defer del do elif else enum except export extends " +
  "extern false final finally fn for from func function go if impl import in interface let match module mut new nil None " +
  "null package private protected pub public raise return self static struct super switch this throw throws trait True " +
  "False true try type typedef union unsafe use val var void while with yield"
).split(" "));

const $ = (id) => document.getElementById(id);
const state = { hits: [], selected: -1, controller: null, timer: 0, navigated: false };

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/* ---- syntax colouring: comments, strings, numbers and common keywords, for any language ---- */

function tokenPattern(language) {
  const comment = HASH_COMMENTS.has(language) ? "#[^\\n]*" : DASH_COMMENTS.has(language) ? "--[^\\n]*" : "//[^\\n]*";
  const block = HASH_COMMENTS.has(language) ? "" : "|/\\*[\\s\\S]*?(?:\\*/|$)";
  const strings = [
    '"""[\\s\\S]*?(?:"""|$)', "'''[\\s\\S]*?(?:'''|$)", '"(?:[^"\\\\\\n]|\\\\.)*"', "'(?:[^'\\\\\\n]|\\\\.)*'",
    "`(?:[^`\\\\]|\\\\.)*`",
  ].join("|");
  return new RegExp(`(${comment}${block})|(${strings})|(\\b\\d[\\w.]*)|([A-Za-z_$][\\w$]*)`, "g");
}

function tokens(text, language) {
  if (PLAIN.has(language)) return [[null, text]];
  const found = [];
  let last = 0;
  for (const match of text.matchAll(tokenPattern(language))) {
    if (match.index > last) found.push([null, text.slice(last, match.index)]);
    const kind = match[1] ? "comment" : match[2] ? "string" : match[3] ? "number" : KEYWORDS.has(match[4]) ? "keyword" : null;
    found.push([kind, match[0]]);
    last = match.index + match[0].length;
  }
  if (last < text.length) found.push([null, text.slice(last)]);
  return found;
}

/* Numbered rows into `pre`, from line `first`; rows in `mark` ([start, end]) are highlighted. */
function renderCode(pre, text, language, first, mark) {
  pre.replaceChildren();
  let number = first;
  let row = addRow(pre, number, mark);
  for (const [kind, piece] of tokens(text, language)) {
    piece.split("\n").forEach((part, i) => {
      if (i > 0) {
        number += 1;
        row = addRow(pre, number, mark);
      }
      if (part) row.append(kind ? element("span", `tok-${kind}`, part) : document.createTextNode(part));
    });
  }
}

function addRow(pre, number, mark) {
  const row = element("span", "row");
  if (mark && number >= mark[0] && number <= mark[1]) row.classList.add("hit-line");
  row.append(element("span", "num", String(number)));
  pre.append(row);
  return row;
}

/* ---- the API ---- */

async function request(endpoint, params, signal) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${endpoint}?${params}`, { headers, signal });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (response.status === 401) askForToken(body.error);
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

/* A search, similar or file request; it replaces the one before, whose answer would come too late. */
function api(endpoint, params) {
  if (state.controller) state.controller.abort();
  state.controller = new AbortController();
  return request(endpoint, params, state.controller.signal);
}

/* The repository filter offers the served repositories this token may read (a local index's
 * status names its one; a store's lists them). Without them the filter still offers "all". */
async function loadRepos() {
  try {
    const status = await request("/api/status", new URLSearchParams());
    const names = (status.repositories || [status]).map((repo) => repo.repo);
    const chosen = $("repo").value;
    $("repo").replaceChildren(option("", "all"), ...names.map((name) => option(name)));
    chooseRepo(chosen);
  } catch {
    /* the search says what went wrong */
  }
}

function option(value, text = value) {
  const node = element("option", "", text);
  node.value = value;
  return node;
}

/* A repository from the URL is chosen even before (or without) the list naming it. */
function chooseRepo(name) {
  if (name && ![...$("repo").options].some((node) => node.value === name)) $("repo").append(option(name));
  $("repo").value = name;
}

function askForToken(message) {
  $("token-box").hidden = false;
  $("token-message").textContent = message;
  $("token").focus();
}

/* ---- views ---- */

function setSummary(text, failed = false) {
  $("summary").textContent = text;
  $("summary").classList.toggle("error", failed);
}

function failed(error) {
  if (error.name !== "AbortError") setSummary(error.message, true);
}

function showView(file) {
  $("file-view").hidden = !file;
  $("results").hidden = file;
  $("summary").hidden = file;
}

function fileUrl(hit) {
  const params = new URLSearchParams({ repo: hit.repo, path: hit.path, start: hit.start_line, end: hit.end_line });
  return `/file?${params}`;
}

function similarUrl(hit) {
  const params = new URLSearchParams({ similar: hit.path, line: hit.start_line, repo: hit.repo });
  for (const name of ["lang", "path"]) if ($(name).value.trim()) params.set(name, $(name).value.trim());
  return `/?${params}`;
}

function hitItem(hit, index) {
  const item = element("li", "hit");
  item.tabIndex = -1;
  item.setAttribute("aria-selected", "false");
  const head = element("div", "hit-head");
  const where = element("a", "where", `${hit.path}:${hit.start_line}-${hit.end_line}`);
  where.href = fileUrl(hit);
  where.title = "open the file at these lines";
  where.addEventListener("click", (event) => follow(event, where.href));
  const place = element("span", "place");
  place.append(element("span", "repo", hit.repo), where);
  head.append(place);
  if (hit.symbol) head.append(element("span", "symbol", hit.symbol));
  head.append(element("span", "meta", `${hit.kind} · ${hit.language} · ${hit.score.toFixed(3)}`));
  const actions = element("span", "actions");
  const similar = element("button", "similar", "similar code");
  similar.type = "button";
  similar.addEventListener("click", () => navigate(similarUrl(hit)));
  actions.append(similar);
  head.append(actions);
  const code = element("pre", "code");
  const lines = hit.text.split("\n");
  renderCode(code, lines.slice(0, SNIPPET_LINES).join("\n"), hit.language, hit.start_line, null);
  if (lines.length > SNIPPET_LINES) code.append(element("span", "more", `… ${lines.length - SNIPPET_LINES} more lines`));
  item.append(head, code);
  item.addEventListener("click", () => select(index));
  return item;
}

function showHits(answer, summary) {
  state.hits = answer.results.map(hitItem);
  state.selected = -1;
  $("results").replaceChildren(...state.hits);
  const count = answer.results.length;
  setSummary(`${count} result${count === 1 ? "" : "s"} ${summary}`);
}

function select(index) {
  if (!state.hits.length) return;
  const previous = state.hits[state.selected];
  if (previous) {
    previous.classList.remove("selected");
    previous.setAttribute("aria-selected", "false");
  }
  state.selected = Math.max(0, Math.min(index, state.hits.length - 1));
  const item = state.hits[state.selected];
  item.classList.add("selected");
  item.setAttribute("aria-selected", "true");
  item.focus({ preventScroll: true });
  item.scrollIntoView({ block: "nearest" });
}

/* ---- searches ---- */

function apiSearchParams() {
  const params = new URLSearchParams({ q: $("q").value });
  if ($("mode").value !== "hybrid") params.set("mode", $("mode").value);
  for (const name of ["repo", "lang"]) if ($(name).value.trim()) params.set(name, $(name).value.trim());
  for (const pattern of $("path").value.split(/\s+/)) if (pattern) params.append("path", pattern);
  return params;
}

function pageSearchParams() {
  const params = new URLSearchParams();
  if ($("q").value.trim()) params.set("q", $("q").value);
  for (const name of ["repo", "lang", "path"]) if ($(name).value.trim()) params.set(name, $(name).value.trim());
  if ($("mode").value !== "hybrid") params.set("mode", $("mode").value);
  return params;
}

async function runSearch() {
  if (!$("q").value.trim()) {
    $("results").replaceChildren();
    state.hits = [];
    setSummary("");
    return;
  }
  const started = performance.now();
  setSummary("searching…");
  try {
    const answer = await api("/api/search", apiSearchParams());
    const ms = Math.round(performance.now() - started);
    document.title = `${answer.query} · codesearch`;
    showHits(answer, `for “${answer.query}” (${answer.mode}, ${answer.task}) in ${ms} ms`);
  } catch (error) {
    failed(error);
  }
}

async function runSimilar(params) {
  const query = new URLSearchParams({ path: params.get("similar") });
  for (const name of ["line", "repo", "lang"]) if (params.get(name)) query.set(name, params.get(name));
  for (const pattern of (params.get("path") || "").split(/\s+/)) if (pattern) query.append("path_glob", pattern);
  setSummary("searching…");
  try {
    const answer = await api("/api/similar", query);
    showHits(answer, `like ${answer.query}`);
  } catch (error) {
    failed(error);
  }
}

async function showFile(params) {
  showView(true);
  const start = Number(params.get("start")) || 0;
  const end = Number(params.get("end")) || start;
  const query = new URLSearchParams({ path: params.get("path") || "" });
  if (params.get("repo")) query.set("repo", params.get("repo"));
  if (start) {
    query.set("start", Math.max(1, start - FILE_CONTEXT));
    query.set("end", end + FILE_CONTEXT);
  }
  $("file-title").textContent = params.get("path") || "";
  document.title = `${params.get("path") || "file"} · codesearch`;
  $("file-note").textContent = "loading…";
  $("file-code").replaceChildren();
  try {
    const file = await api("/api/file", query);
    renderCode($("file-code"), file.lines.join("\n"), file.language, file.start_line, start ? [start, end] : null);
    const changed = file.changed ? " · changed since indexing: the lines may have moved" : "";
    $("file-note").textContent = `${file.repo} · lines ${file.start_line}-${file.end_line} of ${file.total_lines}${changed}`;
    const marked = $("file-code").querySelector(".hit-line");
    if (marked) marked.scrollIntoView({ block: "center" });
  } catch (error) {
    $("file-note").textContent = error.name === "AbortError" ? "" : error.message;
  }
}

/* ---- navigation: the URL is the state ---- */

function route() {
  const params = new URLSearchParams(location.search);
  if (location.pathname === "/file") {
    showFile(params);
    return;
  }
  showView(false);
  for (const name of ["q", "lang", "path"]) $(name).value = params.get(name) || "";
  chooseRepo(params.get("repo") || "");
  $("mode").value = params.get("mode") || "hybrid";
  if (params.get("similar")) runSimilar(params);
  else runSearch();
}

function navigate(url) {
  history.pushState(null, "", url);
  state.navigated = true;
  route();
}

function follow(event, url) {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(url);
}

function back() {
  if (state.navigated) history.back();
  else navigate("/");
}

function searchSoon(delay) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    const params = pageSearchParams();
    history.replaceState(null, "", params.toString() ? `/?${params}` : "/");
    runSearch();
  }, delay);
}

function onKey(event) {
  const typing = event.target.matches("input, select, textarea");
  if (event.key === "/" && !typing) {
    event.preventDefault();
    $("q").focus();
    $("q").select();
  } else if (event.key === "Escape") {
    if (!$("file-view").hidden) back();
    else if (typing) event.target.blur();
  } else if (!$("file-view").hidden) {
    return;
  } else if (typing) {
    if (event.key === "ArrowDown" && event.target === $("q") && state.hits.length) {
      event.preventDefault();
      select(0);
    }
  } else if (event.key === "j" || event.key === "ArrowDown") {
    event.preventDefault();
    select(state.selected + 1);
  } else if (event.key === "k" || event.key === "ArrowUp") {
    event.preventDefault();
    if (state.selected <= 0) $("q").focus();
    else select(state.selected - 1);
  } else if (event.key === "Enter" && state.selected >= 0) {
    event.preventDefault();
    state.hits[state.selected].querySelector(".where").click();
  } else if (event.key === "s" && state.selected >= 0) {
    state.hits[state.selected].querySelector(".similar").click();
  }
}

function start() {
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    searchSoon(0);
  });
  $("q").addEventListener("input", () => searchSoon(TYPING_PAUSE_MS));
  for (const name of ["repo", "lang", "path", "mode"]) $(name).addEventListener("change", () => searchSoon(0));
  $("token-box").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    $("token-box").hidden = true;
    loadRepos();
    route();
  });
  $("back").addEventListener("click", (event) => {
    event.preventDefault();
    back();
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("popstate", route);
  route();
  loadRepos();
}

start();
