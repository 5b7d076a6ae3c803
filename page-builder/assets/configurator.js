/*
 * Forecourt configurator island.
 *
 * Enhances every `[data-configurator]` root the `configurator` block renders:
 *   data-model          model code
 *   data-configuration  share code of a saved build to load first (may be empty)
 *   data-api            public API base, e.g. /t/aurora/api/v1/public
 *   data-share-base     storefront path of shared builds, e.g. /t/aurora/configurations
 *   data-locale         zh-CN | en
 *   data-currency       ISO 4217 code
 *
 * It reads the model (GET {api}/models/{model}), renders trims and option groups with prices,
 * asks the configurator for the resolved build on every change
 * (POST {api}/models/{model}/configure), shows the price breakdown and what changed or is
 * unavailable, and saves a build to share (POST {api}/configurations). A saved build is loaded
 * first (GET {api}/configurations/{code}).
 *
 * No dependencies, no build step, ES2019, no eval, no innerHTML: every text goes in through
 * textContent. When JavaScript is off or the API fails, the server-rendered summary stays.
 */
(function () {
  'use strict';

  var TEXT = {
    en: {
      loading: 'Loading the configurator…',
      failed: 'The configurator could not be loaded. The prices above are still valid.',
      trim: 'Trim',
      none: 'None',
      noCharge: 'No extra charge',
      standard: 'Standard',
      includedWith: 'Included with {x}',
      requiredBy: 'Required by {x}',
      conflicts: 'Choosing this changes: {x}',
      unavailable: 'Not available',
      yourBuild: 'Your build',
      item: 'Item',
      amount: 'Amount',
      total: 'Total',
      removed: '{x} was removed because it does not go with {y}.',
      replaced: '{x} was replaced by {z} because it does not go with {y}.',
      rejected: 'That choice is not possible: {x}',
      updateFailed: 'The price could not be updated. Please try again.',
      loadSavedFailed: 'The saved build could not be loaded; showing the standard build.',
      save: 'Save and share this build',
      saving: 'Saving…',
      saved: 'Saved. Share this link:',
      saveFailed: 'The build could not be saved. Please try again.',
      copy: 'Copy link',
      copied: 'Link copied',
      listSep: ', '
    },
    zh: {
      loading: '正在加载配置器…',
      failed: '配置器加载失败，以上价格仍然有效。',
      trim: '车型配置',
      none: '不选装',
      noCharge: '无需加价',
      standard: '标配',
      includedWith: '随{x}提供',
      requiredBy: '{x}需要此项',
      conflicts: '选择后将调整：{x}',
      unavailable: '暂不可选',
      yourBuild: '您的配置',
      item: '项目',
      amount: '金额',
      total: '合计',
      removed: '{x}已移除，因为与{y}不兼容。',
      replaced: '{x}已替换为{z}，因为与{y}不兼容。',
      rejected: '无法选择该项：{x}',
      updateFailed: '价格更新失败，请重试。',
      loadSavedFailed: '未能加载已保存的配置，现显示标准配置。',
      save: '保存并分享此配置',
      saving: '正在保存…',
      saved: '已保存，分享链接：',
      saveFailed: '保存失败，请重试。',
      copy: '复制链接',
      copied: '链接已复制',
      listSep: '、'
    }
  };

  // ---------------------------------------------------------------------------------------
  // Formatting (mirrors page-builder/src/format.rs)

  function exponent(currency) {
    if (['JPY', 'KRW', 'VND', 'CLP', 'ISK'].indexOf(currency) >= 0) { return 0; }
    if (['BHD', 'KWD', 'OMR', 'JOD', 'TND'].indexOf(currency) >= 0) { return 3; }
    return 2;
  }

  function symbol(currency, zh) {
    switch (currency) {
      case 'CNY': return zh ? '¥' : 'CN¥';
      case 'USD': return zh ? 'US$' : '$';
      case 'EUR': return '€';
      case 'GBP': return '£';
      case 'JPY': return zh ? 'JP¥' : '¥';
      default: return currency + ' ';
    }
  }

  function grouped(digits) {
    var out = '';
    for (var i = 0; i < digits.length; i += 1) {
      if (i > 0 && (digits.length - i) % 3 === 0) { out += ','; }
      out += digits.charAt(i);
    }
    return out;
  }

  function money(minor, currency, zh) {
    var exp = exponent(currency);
    var scale = Math.pow(10, exp);
    var abs = Math.abs(Math.round(Number(minor) || 0));
    var whole = Math.floor(abs / scale);
    var frac = abs % scale;
    var text = symbol(currency, zh) + grouped(String(whole));
    if (frac !== 0) {
      var f = String(frac);
      while (f.length < exp) { f = '0' + f; }
      text += '.' + f;
    }
    return (minor < 0 ? '-' : '') + text;
  }

  /** Text of a `{locale: text}` object in `locale`, else zh-CN, else en, else any. */
  function pick(text, locale) {
    if (!text || typeof text !== 'object') { return typeof text === 'string' ? text : ''; }
    if (text[locale]) { return text[locale]; }
    if (text['zh-CN']) { return text['zh-CN']; }
    if (text.en) { return text.en; }
    var keys = Object.keys(text);
    return keys.length ? String(text[keys[0]]) : '';
  }

  function fill(template, values) {
    return template.replace(/\{([xyz])\}/g, function (_, k) {
      return values[k] === undefined ? '' : String(values[k]);
    });
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers: text only through textContent, attributes only from our own code.

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === false || value === null || value === undefined) { return; }
        if (name === 'text') { node.textContent = String(value); } else { node.setAttribute(name, value === true ? '' : String(value)); }
      });
    }
    (children || []).forEach(function (child) {
      if (child) { node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child); }
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function requestJson(method, url, body) {
    var init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { ok: response.ok, status: response.status, body: data };
      });
    });
  }

  var counter = 0;

  // ---------------------------------------------------------------------------------------
  // One configurator

  function Configurator(root) {
    counter += 1;
    this.root = root;
    this.uid = 'cfg' + counter;
    this.model = root.getAttribute('data-model') || '';
    this.saved = root.getAttribute('data-configuration') || '';
    this.api = (root.getAttribute('data-api') || '').replace(/\/$/, '');
    this.shareBase = (root.getAttribute('data-share-base') || '').replace(/\/$/, '');
    this.locale = root.getAttribute('data-locale') || document.documentElement.lang || 'en';
    this.zh = this.locale.indexOf('zh') === 0;
    this.text = this.zh ? TEXT.zh : TEXT.en;
    this.currency = root.getAttribute('data-currency') || 'CNY';
    this.summary = root.querySelector('[data-configurator-summary]');
    this.detail = null;
    this.names = {};
    this.state = { trim: '', selections: [] };
    this.seq = 0;
    this.inputs = {};
  }

  Configurator.prototype.t = function (key, values) {
    return fill(this.text[key] || key, values || {});
  };

  Configurator.prototype.price = function (minor) {
    return money(minor, this.currency, this.zh);
  };

  Configurator.prototype.nameOf = function (code) {
    return this.names[code] || code;
  };

  Configurator.prototype.list = function (codes) {
    var self = this;
    return (codes || []).map(function (c) { return self.nameOf(c); }).join(this.text.listSep);
  };

  Configurator.prototype.start = async function () {
    if (!this.model || !this.api || typeof fetch !== 'function') { return; }
    var status = el('p', { class: 'cfg-loading', role: 'status', text: this.t('loading') });
    this.root.appendChild(status);
    try {
      var detail = await requestJson('GET', this.api + '/models/' + encodeURIComponent(this.model));
      if (!detail.ok || !detail.body || !detail.body.model) { throw new Error('model ' + detail.status); }
      this.detail = detail.body.model;
      if (detail.body.currency) { this.currency = detail.body.currency; }
      this.index();
      var trims = (this.detail.trims || []).slice().sort(function (a, b) { return a.price - b.price; });
      if (!trims.length) { throw new Error('no trims'); }
      this.state.trim = trims[0].code;
      var notice = '';
      if (this.saved) {
        var saved = await requestJson('GET', this.api + '/configurations/' + encodeURIComponent(this.saved));
        if (saved.ok && saved.body && saved.body.model === this.model && this.names[saved.body.trim]) {
          this.state.trim = saved.body.trim;
          this.state.selections = Array.isArray(saved.body.selections) ? saved.body.selections.slice() : [];
        } else {
          notice = this.t('loadSavedFailed');
        }
      }
      this.build();
      var ok = await this.configure(null);
      if (!ok) { throw new Error('configure'); }
      status.remove();
      if (notice) { this.say([notice]); }
      if (this.summary) { this.summary.hidden = true; }
      this.ui.hidden = false;
    } catch (e) {
      status.textContent = this.t('failed');
      if (this.ui) { this.ui.remove(); }
    }
  };

  /** Names of the trims, options and groups in the page's language. */
  Configurator.prototype.index = function () {
    var self = this;
    (this.detail.trims || []).forEach(function (t) { self.names[t.code] = pick(t.name, self.locale); });
    (this.detail.option_groups || []).forEach(function (g) {
      self.names['group:' + g.code] = pick(g.name, self.locale);
      (g.options || []).forEach(function (o) { self.names[o.code] = pick(o.name, self.locale); });
    });
  };

  Configurator.prototype.build = function () {
    var self = this;
    var ui = el('div', { class: 'cfg-ui', hidden: true });
    var form = el('form', { class: 'cfg-form', novalidate: true });
    form.addEventListener('submit', function (e) { e.preventDefault(); });

    // Trims.
    var trimSet = el('fieldset', { class: 'cfg-group cfg-trims' }, [el('legend', { text: this.t('trim') })]);
    (this.detail.trims || []).slice().sort(function (a, b) { return a.price - b.price; }).forEach(function (trim) {
      var id = self.uid + '-trim-' + trim.code;
      var input = el('input', { type: 'radio', name: self.uid + '-trim', id: id, value: trim.code });
      input.addEventListener('change', function () { if (input.checked) { self.pickTrim(trim.code); } });
      self.inputs['trim:' + trim.code] = input;
      trimSet.appendChild(el('div', { class: 'cfg-choice' }, [
        input,
        el('label', { for: id }, [
          el('span', { class: 'cfg-name', text: self.nameOf(trim.code) }),
          el('span', { class: 'cfg-price', text: self.price(trim.price) })
        ])
      ]));
    });
    form.appendChild(trimSet);

    // Option groups.
    (this.detail.option_groups || []).forEach(function (group) {
      var set = el('fieldset', { class: 'cfg-group', 'data-group': group.code }, [
        el('legend', { text: self.nameOf('group:' + group.code) })
      ]);
      var single = group.selection === 'exactly_one' || group.selection === 'at_most_one';
      var name = self.uid + '-group-' + group.code;
      if (group.selection === 'at_most_one') {
        var noneId = name + '-none';
        var none = el('input', { type: 'radio', name: name, id: noneId, value: '' });
        none.addEventListener('change', function () { if (none.checked) { self.clearGroup(group); } });
        self.inputs['none:' + group.code] = none;
        set.appendChild(el('div', { class: 'cfg-choice' }, [none, el('label', { for: noneId, text: self.t('none') })]));
      }
      (group.options || []).forEach(function (option) {
        var id = name + '-' + option.code;
        var input = el('input', { type: single ? 'radio' : 'checkbox', name: single ? name : id, id: id, value: option.code });
        input.addEventListener('change', function () {
          if (input.checked) { self.pickOption(option.code); } else { self.unpickOption(option.code); }
        });
        var note = el('span', { class: 'cfg-note', id: id + '-note' });
        input.setAttribute('aria-describedby', id + '-note');
        self.inputs[option.code] = { input: input, note: note, single: single };
        set.appendChild(el('div', { class: 'cfg-choice' }, [
          input,
          el('label', { for: id }, [
            el('span', { class: 'cfg-name', text: self.nameOf(option.code) }),
            el('span', { class: 'cfg-price', text: option.price > 0 ? '+' + self.price(option.price) : self.t('noCharge') })
          ]),
          note
        ]));
      });
      form.appendChild(set);
    });
    ui.appendChild(form);

    // Price breakdown, messages, saving.
    this.breakdown = el('div', { class: 'cfg-breakdown', 'aria-live': 'polite' });
    this.messages = el('div', { class: 'cfg-messages', role: 'status', 'aria-live': 'polite' });
    var save = el('button', { type: 'button', class: 'button button-primary', text: this.t('save') });
    save.addEventListener('click', function () { self.save(save); });
    this.share = el('div', { class: 'cfg-share', 'aria-live': 'polite' });
    ui.appendChild(el('div', { class: 'cfg-result' }, [
      el('h3', { text: this.t('yourBuild') }),
      this.breakdown,
      this.messages,
      el('div', { class: 'cfg-actions' }, [save]),
      this.share
    ]));
    this.ui = ui;
    this.root.appendChild(ui);
  };

  Configurator.prototype.pickTrim = function (code) {
    this.state.trim = code;
    this.configure(null, true);
  };

  Configurator.prototype.pickOption = function (code) {
    var picks = this.state.selections.filter(function (c) { return c !== code; });
    picks.push(code);
    this.configure(picks);
  };

  Configurator.prototype.unpickOption = function (code) {
    this.configure(this.state.selections.filter(function (c) { return c !== code; }));
  };

  Configurator.prototype.clearGroup = function (group) {
    var codes = (group.options || []).map(function (o) { return o.code; });
    this.configure(this.state.selections.filter(function (c) { return codes.indexOf(c) < 0; }));
  };

  /**
   * Asks the configurator for the build with `picks` (the current ones when null). On a
   * trim change whose picks do not fit, retries without them. Resolves to success.
   */
  Configurator.prototype.configure = async function (picks, trimChanged) {
    var seq = (this.seq += 1);
    var selections = picks || this.state.selections;
    this.root.setAttribute('aria-busy', 'true');
    try {
      var url = this.api + '/models/' + encodeURIComponent(this.model) + '/configure';
      var answer = await requestJson('POST', url, { trim: this.state.trim, selections: selections });
      if (!answer.ok && trimChanged && selections.length) {
        answer = await requestJson('POST', url, { trim: this.state.trim, selections: [] });
      }
      if (seq !== this.seq) { return false; }
      if (!answer.ok || !answer.body || !answer.body.price) {
        var detail = answer.body && answer.body.detail ? String(answer.body.detail) : '';
        this.say([answer.status === 422 && detail ? this.t('rejected', { x: detail }) : this.t('updateFailed')]);
        this.show(this.last);
        return false;
      }
      this.last = answer.body;
      this.state.trim = answer.body.trim || this.state.trim;
      this.state.selections = Array.isArray(answer.body.selections) ? answer.body.selections : [];
      this.show(answer.body);
      this.say(this.changes(answer.body.changes || []));
      if (this.share) { clear(this.share); }
      return true;
    } catch (e) {
      if (seq === this.seq) {
        this.say([this.t('updateFailed')]);
        this.show(this.last);
      }
      return false;
    } finally {
      if (seq === this.seq) { this.root.removeAttribute('aria-busy'); }
    }
  };

  /** Messages for the picks that had to yield. */
  Configurator.prototype.changes = function (changes) {
    var self = this;
    return changes.map(function (c) {
      var y = self.list((c.reason && c.reason.conflicts_with) || []);
      return c.change === 'replaced'
        ? self.t('replaced', { x: self.nameOf(c.option), y: y, z: self.nameOf(c.by) })
        : self.t('removed', { x: self.nameOf(c.option), y: y });
    });
  };

  Configurator.prototype.say = function (lines) {
    if (!this.messages) { return; }
    clear(this.messages);
    lines.forEach(function (line) {
      this.messages.appendChild(el('p', { text: line }));
    }, this);
  };

  /** Brings the inputs and the breakdown in line with an evaluation. */
  Configurator.prototype.show = function (ev) {
    if (!ev) { return; }
    var self = this;
    Object.keys(this.inputs).forEach(function (key) {
      if (key.indexOf('trim:') === 0) { self.inputs[key].checked = key === 'trim:' + ev.trim; }
    });
    var inBuild = {};
    Object.keys(ev.resolved || {}).forEach(function (group) {
      (ev.resolved[group] || []).forEach(function (code) { inBuild[code] = true; });
      var none = self.inputs['none:' + group];
      if (none) { none.checked = !(ev.resolved[group] || []).length; }
    });
    (ev.options || []).forEach(function (status) {
      var entry = self.inputs[status.code];
      if (!entry) { return; }
      var input = entry.input;
      var note = '';
      var disabled = false;
      input.checked = !!inBuild[status.code];
      if (status.state === 'included') {
        var by = status.by || {};
        if (by.kind === 'package') {
          note = self.t('includedWith', { x: self.nameOf(by.package) });
          disabled = true;
        } else if (by.kind === 'required') {
          note = self.t('requiredBy', { x: self.nameOf(by.by) });
          disabled = !entry.single;
        } else {
          note = self.t('standard');
          disabled = !entry.single;
        }
      } else if (status.state === 'unavailable') {
        var conflicts = (status.reason && status.reason.conflicts_with) || [];
        if (conflicts.length) {
          note = self.t('conflicts', { x: self.list(conflicts) });
        } else {
          note = self.t('unavailable');
          disabled = true;
        }
      }
      input.disabled = disabled;
      entry.note.textContent = note;
      input.parentNode.classList.toggle('is-unavailable', status.state === 'unavailable');
      input.parentNode.classList.toggle('is-included', status.state === 'included');
    });

    clear(this.breakdown);
    var body = el('tbody');
    (ev.price && ev.price.lines || []).forEach(function (line) {
      var label = self.nameOf(line.code);
      var cells = [el('th', { scope: 'row' }, [label])];
      if (line.included_by) {
        cells[0].appendChild(el('span', { class: 'why', text: self.t('includedWith', { x: self.nameOf(line.included_by) }) }));
      }
      cells.push(el('td', { class: 'amount', text: self.price(line.amount) }));
      body.appendChild(el('tr', null, cells));
    });
    this.breakdown.appendChild(el('table', { class: 'price-table' }, [
      el('thead', null, [el('tr', null, [
        el('th', { scope: 'col', text: this.t('item') }),
        el('th', { scope: 'col', class: 'amount', text: this.t('amount') })
      ])]),
      body,
      el('tfoot', null, [el('tr', { class: 'total' }, [
        el('th', { scope: 'row', text: this.t('total') }),
        el('td', { class: 'amount', text: this.price(ev.price ? ev.price.total : 0) })
      ])])
    ]));
  };

  Configurator.prototype.save = async function (button) {
    var self = this;
    button.disabled = true;
    button.textContent = this.t('saving');
    clear(this.share);
    try {
      var answer = await requestJson('POST', this.api + '/configurations', {
        model: this.model,
        trim: this.state.trim,
        selections: this.state.selections
      });
      var code = answer.body && answer.body.code;
      if (!answer.ok || typeof code !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(code)) { throw new Error('save'); }
      var href = new URL(this.shareBase + '/' + encodeURIComponent(code), window.location.href).href;
      var link = el('a', { href: href, text: href });
      var parts = [el('p', { text: this.t('saved') }), el('p', { class: 'cfg-link' }, [link])];
      if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
        var copy = el('button', { type: 'button', class: 'button', text: this.t('copy') });
        copy.addEventListener('click', function () {
          navigator.clipboard.writeText(href).then(function () { copy.textContent = self.t('copied'); }, function () {});
        });
        parts.push(copy);
      }
      parts.forEach(function (p) { self.share.appendChild(p); });
    } catch (e) {
      this.share.appendChild(el('p', { class: 'notice', text: this.t('saveFailed') }));
    } finally {
      button.disabled = false;
      button.textContent = this.t('save');
    }
  };

  function init() {
    var roots = document.querySelectorAll('[data-configurator]');
    Array.prototype.forEach.call(roots, function (root) {
      if (root.getAttribute('data-configurator-ready')) { return; }
      root.setAttribute('data-configurator-ready', 'true');
      new Configurator(root).start();
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
