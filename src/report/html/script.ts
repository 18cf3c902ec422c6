/**
 * The page's script, inlined. It reads the embedded JSON and draws the page with DOM calls only: every string from
 * the cluster goes through textContent, so a pod named `<img onerror=...>` is shown, not run.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('netdoctor-data').textContent);
  var M = data.messages;
  function t(key, params) {
    var s = M[key] || key;
    return s.replace(/\{(\w+)\}/g, function (m, k) { return params && k in params ? String(params[k]) : m; });
  }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else if (k === 'title') e.title = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  var app = document.getElementById('app');
  app.textContent = '';

  function findingCard(f) {
    var card = el('div', { cls: 'finding sev-' + f.severity });
    var local = (data.checkTitles || {})[f.check];
    card.appendChild(el('div', { cls: 'title' }, [
      el('span', { cls: 't-' + (f.severity === 'warning' ? 'partial' : f.severity === 'info' ? 'error' : 'fail'), text: t('severity.' + f.severity) + '  ' }),
      local || f.title,
    ]));
    if (local) card.appendChild(el('div', { text: f.title }));
    card.appendChild(el('div', { cls: 'muted', text: t('check') + ' ' + f.check + (f.node ? ', ' + t('node') + ' ' + f.node : '') }));
    card.appendChild(el('p', { text: f.detail }));
    if (f.evidence && f.evidence.length) {
      card.appendChild(el('div', { text: t('evidence') + ':' }));
      var ul = el('ul');
      f.evidence.forEach(function (e) {
        var where = e.kind === 'rule' && e.table ? e.table + '/' + e.chain + ' #' + e.index + '  ' : e.kind + ': ';
        var li = el('li', null, [el('code', { text: (e.node ? e.node + '  ' : '') + where + e.text })]);
        if (e.detail) li.appendChild(el('div', { cls: 'muted', text: e.detail }));
        ul.appendChild(li);
      });
      card.appendChild(ul);
    }
    if (f.fix && f.fix.length) {
      card.appendChild(el('div', { text: t('fix') + ':' }));
      f.fix.forEach(function (x) { card.appendChild(el('pre', { text: '$ ' + x })); });
    }
    return card;
  }

  function findingsSection(findings) {
    var sec = el('section');
    sec.appendChild(el('h2', { text: t('findings') }));
    if (!findings.length) sec.appendChild(el('p', { cls: 't-pass', text: t('noFindings') }));
    findings.forEach(function (f) { sec.appendChild(findingCard(f)); });
    return sec;
  }

  function pathDiagram(hops) {
    var box = el('div', { cls: 'path' });
    var lastDir = null;
    hops.forEach(function (h, i) {
      if (h.direction !== lastDir) {
        box.appendChild(el('div', { cls: 'muted', text: h.direction === 'reply' ? '↩ reply' : '→ request' }));
        lastDir = h.direction;
      } else if (i > 0) box.appendChild(el('div', { cls: 'arrow', text: '↓' }));
      var bad = h.result === 'drop' || h.result === 'reject' || h.result === 'uncertain';
      var card = el('div', { cls: 'hop' + (h.decisive ? (bad ? ' decisive' : ' ok-decisive') : '') });
      var left = el('div', null, [
        el('div', { cls: 'where', text: h.node || '—' }),
        el('div', { cls: 'muted', text: h.kind + (h.in || h.out ? ' ' + (h.in || '') + (h.out ? '→' + h.out : '') : '') }),
      ]);
      var right = el('div');
      var head = el('div', null, [el('span', { cls: 'mono', text: h.packet || '' })]);
      if (h.decisive) head.appendChild(el('span', { cls: 'tag', text: t('decisive') }));
      right.appendChild(head);
      right.appendChild(el('div', { text: h.detail || '' }));
      (h.rules || []).slice(-3).forEach(function (r) {
        right.appendChild(el('div', { cls: 'mono muted', text: r.table + '/' + r.chain + ' #' + r.index + '  ' + r.text }));
      });
      if (h.route) right.appendChild(el('div', { cls: 'mono muted', text: 'route: ' + h.route }));
      (h.rewrites || []).forEach(function (r) { right.appendChild(el('div', { cls: 'mono muted', text: r })); });
      card.appendChild(left);
      card.appendChild(right);
      box.appendChild(card);
    });
    return box;
  }

  function probeLine(o) {
    var d = el('div', { cls: 'probe' });
    d.appendChild(el('span', { cls: 'st t-' + o.status, text: t('status.' + o.status) }));
    d.appendChild(el('span', { cls: 'mono', text: ' ' + o.line + '  ' }));
    d.appendChild(el('span', { cls: 'muted', text: o.result }));
    if (o.reason) {
      d.appendChild(el('div', { text: t('traceSays') + ': ' + o.reason.summary }));
      if (o.reason.disagreement) d.appendChild(el('div', { cls: 't-partial', text: o.reason.disagreement }));
    }
    return d;
  }

  function cellTitle(cell) {
    return cell.outcomes.map(function (i) {
      var o = data.outcomes[i];
      return t('status.' + o.status) + '  ' + o.proto + (o.port != null ? '/' + o.port : '') + '  ' + o.result +
        (o.reason ? '\n  ' + t('reason') + ': ' + o.reason.summary : '');
    }).join('\n');
  }

  function showDetail(cell, td) {
    var prev = document.querySelector('td.cell.sel');
    if (prev) prev.classList.remove('sel');
    td.classList.add('sel');
    var panel = document.getElementById('detail');
    panel.textContent = '';
    panel.className = 'open';
    var row = data.matrix.rows.find(function (r) { return r.key === cell.row; });
    var col = data.matrix.cols.find(function (c) { return c.key === cell.col; });
    panel.appendChild(el('h3', { text: row.label + '  →  ' + col.label }));
    var shown = false;
    cell.outcomes.forEach(function (i) {
      var o = data.outcomes[i];
      panel.appendChild(probeLine(o));
      if (!shown && o.reason && o.reason.hops && o.reason.hops.length && o.status !== 'pass') {
        panel.appendChild(el('div', { cls: 'muted', text: t('path') + ' (' + o.proto + ')' }));
        panel.appendChild(pathDiagram(o.reason.hops));
        shown = true;
      }
    });
    panel.scrollIntoView({ block: 'nearest' });
  }

  function matrixSection() {
    var m = data.matrix;
    var sec = el('section');
    sec.appendChild(el('h2', { text: t('matrix') }));
    sec.appendChild(el('div', { cls: 'muted', text: t('matrixHint') }));
    var legend = el('div', { cls: 'legend' });
    ['pass', 'fail', 'partial', 'slow', 'error'].forEach(function (s) {
      legend.appendChild(el('span', { title: t('statusHelp.' + s) }, [el('span', { cls: 'sw s-' + s }), t('status.' + s)]));
    });
    sec.appendChild(legend);
    var byKey = {};
    m.cells.forEach(function (c) { byKey[c.row + '\u0000' + c.col] = c; });
    var table = el('table', { cls: 'matrix' });
    var head = el('tr', null, [el('th', { cls: 'corner muted', text: t('from') + ' ↓  ' + t('to') + ' →' })]);
    m.cols.forEach(function (c) {
      head.appendChild(el('th', { title: c.kind + ' ' + c.label + (c.node ? ' (' + c.node + ')' : '') }, [
        el('div', { text: c.label + (c.node && c.kind === 'pod' ? ' · ' + c.node : '') }),
      ]));
    });
    table.appendChild(el('thead', null, [head]));
    var body = el('tbody');
    var lastGroup = null;
    m.rows.forEach(function (r) {
      var group = r.kind + '/' + (r.node || '');
      var tr = el('tr', { cls: lastGroup !== null && group !== lastGroup ? 'group-start' : '' });
      lastGroup = group;
      tr.appendChild(el('th', null, [r.label, r.node && r.kind === 'pod' ? el('span', { cls: 'node', text: r.node }) : null]));
      m.cols.forEach(function (c) {
        var cell = byKey[r.key + '\u0000' + c.key];
        if (!cell) { tr.appendChild(el('td', { cls: 'cell none' })); return; }
        var sym = { pass: '', fail: '✕', partial: '◐', slow: '◷', error: '?' }[cell.status];
        var td = el('td', { cls: 'cell s-' + cell.status, title: r.label + ' → ' + c.label + '\n' + cellTitle(cell), 'data-status': cell.status, 'data-row': r.key, 'data-col': c.key, text: sym });
        td.addEventListener('click', function () { showDetail(cell, td); });
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    sec.appendChild(el('div', { cls: 'matrix-wrap' }, [table]));
    sec.appendChild(el('div', { id: 'detail' }));
    return sec;
  }

  function failuresSection() {
    var sec = el('section');
    sec.appendChild(el('h2', { text: t('failures') }));
    var failed = data.outcomes.filter(function (o) { return o.status !== 'pass'; });
    if (!failed.length) { sec.appendChild(el('p', { cls: 't-pass', text: t('noFailures') })); return sec; }
    var groups = {};
    var order = [];
    failed.forEach(function (o) {
      var k = o.reason ? o.reason.summary : '(' + t('noTrace') + ')';
      if (!groups[k]) { groups[k] = []; order.push(k); }
      groups[k].push(o);
    });
    order.sort(function (a, b) { return groups[b].length - groups[a].length; });
    order.forEach(function (k) {
      var g = el('div', { cls: 'reason-group' });
      g.appendChild(el('div', { cls: 'why' }, [t('reason') + ': ', el('span', { cls: 'mono', text: k }), el('span', { cls: 'muted', text: '  (' + groups[k].length + ')' })]));
      groups[k].slice(0, 20).forEach(function (o) { g.appendChild(probeLine(o)); });
      if (groups[k].length > 20) g.appendChild(el('div', { cls: 'muted', text: '… ' + (groups[k].length - 20) }));
      var withHops = groups[k].find(function (o) { return o.reason && o.reason.hops && o.reason.hops.length; });
      if (withHops) {
        var det = el('details', null, [el('summary', { text: t('path') + ': ' + withHops.line })]);
        det.appendChild(pathDiagram(withHops.reason.hops));
        g.appendChild(det);
      }
      sec.appendChild(g);
    });
    return sec;
  }

  function listSection(kind, title) {
    var list = data.outcomes.filter(function (o) { return o.kind === kind; });
    if (!list.length) return null;
    var sec = el('section', { 'data-kind': kind });
    sec.appendChild(el('h2', { text: title }));
    var table = el('table', { cls: 'list' });
    list.forEach(function (o) {
      table.appendChild(el('tr', null, [
        el('td', { cls: 't-' + o.status, text: t('status.' + o.status) }),
        el('td', { cls: 'mono', text: o.line }),
        el('td', { cls: 'muted', text: o.result + (o.reason ? ' — ' + o.reason.summary : '') }),
      ]));
    });
    sec.appendChild(table);
    return sec;
  }

  function causeBox(groups) {
    var failed = (data.outcomes || []).filter(function (o) { return o.status !== 'pass'; });
    var top = (data.findings || []).filter(function (f) { return f.severity === 'critical' || f.severity === 'error'; })[0];
    if (!failed.length && !top) return null;
    var box = el('div', { cls: 'cause' });
    if (top) {
      var topLocal = (data.checkTitles || {})[top.check];
      box.appendChild(el('div', { cls: 'big', text: topLocal || top.title }));
      if (topLocal) box.appendChild(el('div', { text: top.title }));
      if (top.fix && top.fix[0]) box.appendChild(el('pre', { text: '$ ' + top.fix[0] }));
    }
    if (failed.length) {
      var counts = {};
      failed.forEach(function (o) { var k = o.reason ? o.reason.summary : ''; counts[k] = (counts[k] || 0) + 1; });
      var best = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a]; })[0];
      if (best) box.appendChild(el('div', null, [counts[best] + ' × ', el('span', { cls: 'mono', text: best })]));
    }
    return box;
  }

  document.title = data.title;
  app.appendChild(el('h1', { text: data.title }));
  if (data.view === 'probe') {
    var s = data.summary.byStatus;
    app.appendChild(el('div', { cls: 'muted', text: t('probeHeadline', { target: data.target, total: data.summary.total,
      seconds: (data.durationMs / 1000).toFixed(1), pass: s.pass, fail: s.fail, partial: s.partial, slow: s.slow, error: s.error }) }));
    var chips = el('div', { cls: 'chips' });
    Object.keys(data.summary.byKind).forEach(function (k) {
      var v = data.summary.byKind[k];
      chips.appendChild(el('span', { cls: 'chip' + (v.failed ? ' t-fail' : ''), 'data-kind': k }, [el('b', { text: t('kind.' + k) }), v.total - v.failed + '/' + v.total]));
    });
    app.appendChild(chips);
    var cause = causeBox();
    if (cause) app.appendChild(cause);
    app.appendChild(matrixSection());
    app.appendChild(failuresSection());
    [['dns', t('dns')], ['overlay', t('overlay')], ['mtu', t('mtu')]].forEach(function (x) {
      var sec = listSection(x[0], x[1]);
      if (sec) app.appendChild(sec);
    });
    if (data.problems && data.problems.length) {
      var p = el('section', null, [el('h2', { text: t('problems') })]);
      data.problems.forEach(function (x) { p.appendChild(el('div', { cls: 't-fail', text: x })); });
      app.appendChild(p);
    }
  } else {
    app.appendChild(el('div', { cls: 'muted', text: data.headline }));
    var top = causeBox();
    if (top) app.appendChild(top);
  }
  app.appendChild(findingsSection(data.findings || []));
  app.appendChild(el('footer', { text: t('generated', { version: data.version, time: data.generatedAt }) }));
})();
`;
