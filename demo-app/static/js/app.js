/*
 * Lernmanager – Client-Skript
 *
 * Keine externen Abhängigkeiten. Das Skript verbessert die serverseitig
 * gerenderten Seiten schrittweise: Ohne JavaScript funktionieren Anmeldung,
 * Aufgabenliste und Formulare weiterhin über normale Formular-Requests.
 *
 * Module (alle im selben IIFE, damit nichts global wird außer window.Lernmanager):
 *   - i18n          Texte und Pluralformen
 *   - util          kleine Helfer (DOM, Zeit, Zahlen, Debounce ...)
 *   - storage       sicherer Zugriff auf localStorage
 *   - events        minimaler Event-Bus
 *   - http          fetch-Wrapper mit Timeout, Wiederholung und Fehlerobjekten
 *   - outbox        Warteschlange für Schreibzugriffe, die offline fehlschlagen
 *   - toast         Benachrichtigungen
 *   - modal         Dialoge mit Fokusfalle
 *   - theme, nav    Darstellung und Navigation
 *   - loginForm     Validierung, Feststelltaste, Passwort anzeigen
 *   - tasks         Aufgabenliste: erledigen, filtern, suchen, Tastenkürzel
 *   - tables        sortierbare Tabellen
 *   - accordion     Hilfebereich
 *   - uploads       Datei-Upload mit Fortschritt
 */
(function (window, document) {
  "use strict";

  var VERSION = "1.8.3";

  /* ------------------------------------------------------------------------
   * i18n
   * ---------------------------------------------------------------------- */

  var MESSAGES = {
    "app.name": "Lernmanager",
    "app.offline": "Du bist offline. Änderungen werden gespeichert und später übertragen.",
    "app.online": "Verbindung wiederhergestellt.",
    "app.updated": "Eine neue Version des Lernmanagers ist verfügbar. Bitte lade die Seite neu.",
    "common.close": "Schließen",
    "common.cancel": "Abbrechen",
    "common.ok": "OK",
    "common.retry": "Erneut versuchen",
    "common.loading": "Wird geladen …",
    "common.saving": "Wird gespeichert …",
    "common.saved": "Gespeichert",
    "common.error": "Es ist ein Fehler aufgetreten.",
    "common.unknown": "unbekannt",
    "nav.open": "Menü öffnen",
    "nav.close": "Menü schließen",
    "theme.dark": "Dunkles Design",
    "theme.light": "Helles Design",
    "login.required": "Bitte fülle dieses Feld aus.",
    "login.username.invalid": "Der Benutzername darf nur Kleinbuchstaben, Ziffern, Punkt und Bindestrich enthalten.",
    "login.password.short": "Das Passwort ist zu kurz.",
    "login.caps": "Achtung: Die Feststelltaste ist aktiviert.",
    "login.show": "Anzeigen",
    "login.hide": "Verbergen",
    "login.submitting": "Wird angemeldet …",
    "tasks.done": "Aufgabe „{title}“ als erledigt markiert.",
    "tasks.done.again": "Erledigt-Zeitpunkt für „{title}“ aktualisiert.",
    "tasks.done.queued": "Offline gespeichert: „{title}“ wird übertragen, sobald du wieder online bist.",
    "tasks.error": "„{title}“ konnte nicht gespeichert werden.",
    "tasks.session": "Deine Sitzung ist abgelaufen. Bitte melde dich erneut an.",
    "tasks.empty": "Keine Aufgaben passen zu deiner Suche.",
    "tasks.all.done": "Großartig! Du hast alle Aufgaben erledigt.",
    "tasks.count.one": "{count} Aufgabe",
    "tasks.count.other": "{count} Aufgaben",
    "tasks.open.one": "Noch {count} Aufgabe offen",
    "tasks.open.other": "Noch {count} Aufgaben offen",
    "tasks.button.done": "Erledigt",
    "tasks.button.again": "Erneut bestätigen",
    "tasks.refreshed": "Fortschritt aktualisiert.",
    "tasks.shortcuts.title": "Tastenkürzel",
    "outbox.flushed.one": "{count} gespeicherte Änderung übertragen.",
    "outbox.flushed.other": "{count} gespeicherte Änderungen übertragen.",
    "upload.too.large": "Die Datei „{name}“ ist zu groß (höchstens {max}).",
    "upload.done": "„{name}“ wurde hochgeladen ({size}).",
    "upload.failed": "„{name}“ konnte nicht hochgeladen werden.",
    "upload.drop": "Dateien hierher ziehen oder klicken, um sie auszuwählen",
    "time.now": "gerade eben",
    "time.minutes.one": "vor einer Minute",
    "time.minutes.other": "vor {count} Minuten",
    "time.hours.one": "vor einer Stunde",
    "time.hours.other": "vor {count} Stunden",
    "time.yesterday": "gestern",
    "time.days.other": "vor {count} Tagen",
    "time.weeks.one": "vor einer Woche",
    "time.weeks.other": "vor {count} Wochen",
    "http.timeout": "Der Server antwortet nicht. Bitte versuche es später noch einmal.",
    "http.network": "Keine Verbindung zum Server.",
    "http.status.401": "Nicht angemeldet.",
    "http.status.403": "Keine Berechtigung für diese Aktion.",
    "http.status.404": "Nicht gefunden.",
    "http.status.413": "Die Datei ist zu groß.",
    "http.status.429": "Zu viele Anfragen. Bitte warte einen Moment.",
    "http.status.500": "Interner Serverfehler.",
    "http.status.502": "Der Server ist gerade nicht erreichbar.",
    "http.status.503": "Der Dienst ist vorübergehend nicht verfügbar.",
    "http.status.504": "Zeitüberschreitung am Server."
  };

  var i18n = {
    locale: document.documentElement.getAttribute("lang") || "de",

    t: function (key, params) {
      var text = Object.prototype.hasOwnProperty.call(MESSAGES, key) ? MESSAGES[key] : key;
      if (!params) {
        return text;
      }
      return text.replace(/\{(\w+)\}/g, function (match, name) {
        return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match;
      });
    },

    plural: function (baseKey, count, params) {
      var merged = util.extend({ count: count }, params || {});
      var key = baseKey + (count === 1 ? ".one" : ".other");
      if (!Object.prototype.hasOwnProperty.call(MESSAGES, key)) {
        key = baseKey + ".other";
      }
      return i18n.t(key, merged);
    }
  };

  /* ------------------------------------------------------------------------
   * util
   * ---------------------------------------------------------------------- */

  var util = {
    $: function (selector, root) {
      return (root || document).querySelector(selector);
    },

    $$: function (selector, root) {
      return Array.prototype.slice.call((root || document).querySelectorAll(selector));
    },

    on: function (target, type, selectorOrHandler, maybeHandler) {
      if (typeof selectorOrHandler === "function") {
        target.addEventListener(type, selectorOrHandler);
        return function () {
          target.removeEventListener(type, selectorOrHandler);
        };
      }
      var selector = selectorOrHandler;
      var handler = function (event) {
        var match = event.target && event.target.closest ? event.target.closest(selector) : null;
        if (match && target.contains(match)) {
          maybeHandler.call(match, event, match);
        }
      };
      target.addEventListener(type, handler);
      return function () {
        target.removeEventListener(type, handler);
      };
    },

    extend: function (target) {
      for (var i = 1; i < arguments.length; i++) {
        var source = arguments[i];
        if (!source) {
          continue;
        }
        for (var key in source) {
          if (Object.prototype.hasOwnProperty.call(source, key)) {
            target[key] = source[key];
          }
        }
      }
      return target;
    },

    debounce: function (fn, wait) {
      var timer = null;
      return function () {
        var context = this;
        var args = arguments;
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
          timer = null;
          fn.apply(context, args);
        }, wait);
      };
    },

    throttle: function (fn, wait) {
      var last = 0;
      var pending = null;
      return function () {
        var context = this;
        var args = arguments;
        var now = Date.now();
        var remaining = wait - (now - last);
        if (remaining <= 0) {
          last = now;
          fn.apply(context, args);
        } else if (!pending) {
          pending = window.setTimeout(function () {
            pending = null;
            last = Date.now();
            fn.apply(context, args);
          }, remaining);
        }
      };
    },

    clamp: function (value, min, max) {
      return Math.min(max, Math.max(min, value));
    },

    escapeHtml: function (value) {
      return String(value == null ? "" : value)
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&#39;");
    },

    normalize: function (value) {
      var text = String(value || "").toLowerCase();
      if (text.normalize) {
        text = text.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
      }
      return text.replace(/ß/g, "ss").replace(/\s+/g, " ").trim();
    },

    formatNumber: function (value, digits) {
      try {
        return new Intl.NumberFormat(i18n.locale, {
          minimumFractionDigits: digits || 0,
          maximumFractionDigits: digits || 0
        }).format(value);
      } catch (e) {
        return String(Math.round(value));
      }
    },

    formatPercent: function (part, total) {
      if (!total) {
        return "0 %";
      }
      return util.formatNumber(Math.round((100 * part) / total)) + " %";
    },

    formatBytes: function (bytes) {
      var units = ["B", "KB", "MB", "GB"];
      var value = Number(bytes) || 0;
      var unit = 0;
      while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
      }
      return util.formatNumber(value, unit === 0 ? 0 : 1) + " " + units[unit];
    },

    parseDate: function (value) {
      if (!value) {
        return null;
      }
      if (value instanceof Date) {
        return value;
      }
      var date = new Date(value);
      return isNaN(date.getTime()) ? null : date;
    },

    formatDate: function (value) {
      var date = util.parseDate(value);
      if (!date) {
        return "";
      }
      try {
        return new Intl.DateTimeFormat(i18n.locale, {
          day: "2-digit",
          month: "2-digit",
          year: "numeric",
          hour: "2-digit",
          minute: "2-digit"
        }).format(date);
      } catch (e) {
        return date.toLocaleString();
      }
    },

    relativeTime: function (value, now) {
      var date = util.parseDate(value);
      if (!date) {
        return "";
      }
      var diff = Math.max(0, ((now || Date.now()) - date.getTime()) / 1000);
      if (diff < 45) {
        return i18n.t("time.now");
      }
      var minutes = Math.round(diff / 60);
      if (minutes < 60) {
        return i18n.plural("time.minutes", minutes);
      }
      var hours = Math.round(minutes / 60);
      if (hours < 24) {
        return i18n.plural("time.hours", hours);
      }
      var days = Math.round(hours / 24);
      if (days === 1) {
        return i18n.t("time.yesterday");
      }
      if (days < 7) {
        return i18n.plural("time.days", days);
      }
      var weeks = Math.round(days / 7);
      if (weeks <= 4) {
        return i18n.plural("time.weeks", weeks);
      }
      return util.formatDate(date);
    },

    uid: function (prefix) {
      var random = "";
      if (window.crypto && window.crypto.getRandomValues) {
        var bytes = new Uint8Array(8);
        window.crypto.getRandomValues(bytes);
        for (var i = 0; i < bytes.length; i++) {
          random += ("0" + bytes[i].toString(16)).slice(-2);
        }
      } else {
        random = Math.random().toString(16).slice(2, 18);
      }
      return (prefix || "id") + "-" + Date.now().toString(36) + "-" + random;
    },

    setBusy: function (element, busy, text) {
      if (!element) {
        return;
      }
      if (busy) {
        if (!element.hasAttribute("data-original-text")) {
          element.setAttribute("data-original-text", element.textContent.trim());
        }
        if (text) {
          element.textContent = text;
        }
        element.classList.add("is-loading");
        element.setAttribute("aria-busy", "true");
        element.disabled = true;
      } else {
        var original = element.getAttribute("data-original-text");
        if (original !== null) {
          element.textContent = original;
          element.removeAttribute("data-original-text");
        }
        element.classList.remove("is-loading");
        element.removeAttribute("aria-busy");
        element.disabled = false;
      }
    },

    focusable: function (root) {
      var selector = [
        "a[href]",
        "area[href]",
        "button:not([disabled])",
        "input:not([disabled]):not([type=hidden])",
        "select:not([disabled])",
        "textarea:not([disabled])",
        "summary",
        "[tabindex]:not([tabindex='-1'])"
      ].join(",");
      return util.$$(selector, root).filter(function (el) {
        return el.offsetWidth > 0 || el.offsetHeight > 0 || el === document.activeElement;
      });
    },

    announce: function (message) {
      var region = util.$("[data-live-announcer]");
      if (!region) {
        region = document.createElement("div");
        region.className = "visually-hidden";
        region.setAttribute("aria-live", "polite");
        region.setAttribute("data-live-announcer", "");
        document.body.appendChild(region);
      }
      region.textContent = "";
      window.setTimeout(function () {
        region.textContent = message;
      }, 50);
    }
  };

  /* ------------------------------------------------------------------------
   * storage
   * ---------------------------------------------------------------------- */

  var storage = (function () {
    var prefix = "lernmanager:";
    var memory = {};
    var available = (function () {
      try {
        var probe = prefix + "probe";
        window.localStorage.setItem(probe, "1");
        window.localStorage.removeItem(probe);
        return true;
      } catch (e) {
        return false;
      }
    })();

    function get(key, fallback) {
      var raw = null;
      if (available) {
        try {
          raw = window.localStorage.getItem(prefix + key);
        } catch (e) {
          raw = null;
        }
      } else if (Object.prototype.hasOwnProperty.call(memory, key)) {
        raw = memory[key];
      }
      if (raw === null || raw === undefined) {
        return fallback;
      }
      try {
        return JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    }

    function set(key, value) {
      var raw = JSON.stringify(value);
      if (available) {
        try {
          window.localStorage.setItem(prefix + key, raw);
          return true;
        } catch (e) {
          return false;
        }
      }
      memory[key] = raw;
      return true;
    }

    function remove(key) {
      if (available) {
        try {
          window.localStorage.removeItem(prefix + key);
        } catch (e) {
          /* ignorieren */
        }
      }
      delete memory[key];
    }

    return { get: get, set: set, remove: remove, available: available };
  })();

  /* ------------------------------------------------------------------------
   * events
   * ---------------------------------------------------------------------- */

  var events = (function () {
    var handlers = {};

    function on(name, handler) {
      (handlers[name] = handlers[name] || []).push(handler);
      return function () {
        off(name, handler);
      };
    }

    function off(name, handler) {
      var list = handlers[name];
      if (!list) {
        return;
      }
      handlers[name] = list.filter(function (h) {
        return h !== handler;
      });
    }

    function emit(name, payload) {
      (handlers[name] || []).slice().forEach(function (handler) {
        try {
          handler(payload);
        } catch (e) {
          if (window.console && window.console.error) {
            window.console.error("[lernmanager] Fehler in Event-Handler für", name, e);
          }
        }
      });
    }

    return { on: on, off: off, emit: emit };
  })();

  /* ------------------------------------------------------------------------
   * http
   * ---------------------------------------------------------------------- */

  function HttpError(message, status, body) {
    this.name = "HttpError";
    this.message = message;
    this.status = status || 0;
    this.body = body || null;
    if (Error.captureStackTrace) {
      Error.captureStackTrace(this, HttpError);
    }
  }
  HttpError.prototype = Object.create(Error.prototype);
  HttpError.prototype.constructor = HttpError;

  HttpError.prototype.isRetryable = function () {
    return this.status === 0 || this.status === 429 || this.status === 502 ||
      this.status === 503 || this.status === 504;
  };

  var http = (function () {
    var DEFAULT_TIMEOUT = 15000;

    function messageForStatus(status) {
      var key = "http.status." + status;
      var text = i18n.t(key);
      return text === key ? i18n.t("common.error") + " (HTTP " + status + ")" : text;
    }

    function withTimeout(promise, ms, controller) {
      return new Promise(function (resolve, reject) {
        var timer = window.setTimeout(function () {
          if (controller) {
            controller.abort();
          }
          reject(new HttpError(i18n.t("http.timeout"), 0));
        }, ms);
        promise.then(
          function (value) {
            window.clearTimeout(timer);
            resolve(value);
          },
          function (error) {
            window.clearTimeout(timer);
            reject(error);
          }
        );
      });
    }

    function parseBody(response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") !== -1) {
        return response.json().catch(function () {
          return null;
        });
      }
      return response.text();
    }

    function request(method, url, options) {
      options = options || {};
      var headers = util.extend({ "X-Requested-With": "fetch", Accept: "application/json" }, options.headers);
      var body = options.body;
      if (options.json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(options.json);
      } else if (options.form) {
        body = new URLSearchParams();
        Object.keys(options.form).forEach(function (key) {
          if (options.form[key] !== undefined && options.form[key] !== null) {
            body.append(key, options.form[key]);
          }
        });
      }
      var controller = typeof AbortController === "function" ? new AbortController() : null;
      var init = {
        method: method,
        headers: headers,
        body: body,
        credentials: "same-origin",
        redirect: options.redirect || "follow",
        signal: controller ? controller.signal : undefined
      };
      var started = Date.now();
      var promise = window.fetch(url, init).then(
        function (response) {
          return parseBody(response).then(function (data) {
            events.emit("http:response", {
              method: method,
              url: url,
              status: response.status,
              duration: Date.now() - started
            });
            if (!response.ok) {
              var message = data && data.error ? data.error : messageForStatus(response.status);
              throw new HttpError(message, response.status, data);
            }
            return data;
          });
        },
        function () {
          throw new HttpError(i18n.t("http.network"), 0);
        }
      );
      return withTimeout(promise, options.timeout || DEFAULT_TIMEOUT, controller);
    }

    function retry(fn, attempts, baseDelay) {
      attempts = attempts || 3;
      baseDelay = baseDelay || 400;
      return new Promise(function (resolve, reject) {
        var attempt = 0;
        function run() {
          attempt += 1;
          fn().then(resolve, function (error) {
            var retryable = error && typeof error.isRetryable === "function" && error.isRetryable();
            if (!retryable || attempt >= attempts) {
              reject(error);
              return;
            }
            var jitter = Math.random() * baseDelay;
            var delay = baseDelay * Math.pow(2, attempt - 1) + jitter;
            window.setTimeout(run, delay);
          });
        }
        run();
      });
    }

    return {
      get: function (url, options) {
        return request("GET", url, options);
      },
      post: function (url, options) {
        return request("POST", url, options);
      },
      retry: retry,
      HttpError: HttpError
    };
  })();

  /* ------------------------------------------------------------------------
   * outbox: Schreibzugriffe, die wegen fehlender Verbindung nicht ankamen
   * ---------------------------------------------------------------------- */

  var outbox = (function () {
    var KEY = "outbox";
    var flushing = false;

    function list() {
      var items = storage.get(KEY, []);
      return Array.isArray(items) ? items : [];
    }

    function save(items) {
      storage.set(KEY, items);
      events.emit("outbox:changed", { size: items.length });
    }

    function add(entry) {
      var items = list().filter(function (item) {
        return item.writeId !== entry.writeId;
      });
      items.push(util.extend({ queuedAt: new Date().toISOString() }, entry));
      save(items);
    }

    function removeEntry(writeId) {
      save(
        list().filter(function (item) {
          return item.writeId !== writeId;
        })
      );
    }

    function flush() {
      if (flushing || !navigator.onLine) {
        return Promise.resolve(0);
      }
      var items = list();
      if (!items.length) {
        return Promise.resolve(0);
      }
      flushing = true;
      var sent = 0;
      var chain = Promise.resolve();
      items.forEach(function (item) {
        chain = chain.then(function () {
          return http
            .post(item.url, { form: { write_id: item.writeId } })
            .then(function (data) {
              sent += 1;
              removeEntry(item.writeId);
              events.emit("task:saved", { taskId: item.taskId, data: data, fromOutbox: true });
            })
            .catch(function (error) {
              if (error && error.status === 401) {
                removeEntry(item.writeId);
              }
            });
        });
      });
      return chain.then(function () {
        flushing = false;
        if (sent) {
          toast.show(i18n.plural("outbox.flushed", sent), "success");
        }
        return sent;
      });
    }

    return { add: add, list: list, flush: flush, size: function () { return list().length; } };
  })();

  /* ------------------------------------------------------------------------
   * toast
   * ---------------------------------------------------------------------- */

  var toast = (function () {
    var MAX_VISIBLE = 4;
    var DEFAULT_DURATION = 4500;

    function region() {
      var el = util.$("[data-toast-region]");
      if (!el) {
        el = document.createElement("div");
        el.className = "toast-region";
        el.setAttribute("aria-live", "polite");
        el.setAttribute("data-toast-region", "");
        document.body.appendChild(el);
      }
      return el;
    }

    function dismiss(el) {
      if (!el || el.classList.contains("is-leaving")) {
        return;
      }
      el.classList.add("is-leaving");
      window.setTimeout(function () {
        if (el.parentNode) {
          el.parentNode.removeChild(el);
        }
      }, 200);
    }

    function build(message, type) {
      var template = document.getElementById("toast-template");
      var el;
      if (template && template.content) {
        el = template.content.firstElementChild.cloneNode(true);
      } else {
        el = document.createElement("div");
        el.className = "toast";
        el.setAttribute("role", "status");
        el.innerHTML =
          '<span class="toast__message"></span>' +
          '<button type="button" class="toast__close" aria-label="' +
          util.escapeHtml(i18n.t("common.close")) +
          '">×</button>';
      }
      if (type) {
        el.classList.add("toast--" + type);
      }
      if (type === "error") {
        el.setAttribute("role", "alert");
      }
      el.querySelector(".toast__message").textContent = message;
      return el;
    }

    function show(message, type, options) {
      options = options || {};
      var container = region();
      var el = build(message, type);
      container.appendChild(el);
      while (container.children.length > MAX_VISIBLE) {
        dismiss(container.firstElementChild);
        container.removeChild(container.firstElementChild);
      }
      var timer = null;
      var duration = options.duration === undefined ? DEFAULT_DURATION : options.duration;
      if (duration > 0) {
        timer = window.setTimeout(function () {
          dismiss(el);
        }, duration);
      }
      el.addEventListener("mouseenter", function () {
        window.clearTimeout(timer);
      });
      el.addEventListener("mouseleave", function () {
        if (duration > 0) {
          timer = window.setTimeout(function () {
            dismiss(el);
          }, duration / 2);
        }
      });
      el.querySelector(".toast__close").addEventListener("click", function () {
        window.clearTimeout(timer);
        dismiss(el);
      });
      return el;
    }

    return { show: show, dismiss: dismiss };
  })();

  /* ------------------------------------------------------------------------
   * modal
   * ---------------------------------------------------------------------- */

  var modal = (function () {
    var current = null;

    function close() {
      if (!current) {
        return;
      }
      var state = current;
      current = null;
      document.removeEventListener("keydown", state.onKey, true);
      if (state.backdrop.parentNode) {
        state.backdrop.parentNode.removeChild(state.backdrop);
      }
      document.body.style.overflow = state.overflow;
      if (state.returnFocus && typeof state.returnFocus.focus === "function") {
        state.returnFocus.focus();
      }
      events.emit("modal:closed", {});
    }

    function open(options) {
      close();
      var backdrop = document.createElement("div");
      backdrop.className = "modal-backdrop";
      var titleId = util.uid("modal-title");
      backdrop.innerHTML =
        '<div class="modal" role="dialog" aria-modal="true" aria-labelledby="' + titleId + '">' +
        '<div class="modal__header"><h2 class="modal__title" id="' + titleId + '"></h2>' +
        '<button type="button" class="button button--ghost button--small" data-modal-close>' +
        util.escapeHtml(i18n.t("common.close")) +
        "</button></div>" +
        '<div class="modal__body"></div>' +
        '<div class="modal__footer"><button type="button" class="button button--primary" data-modal-close>' +
        util.escapeHtml(options.confirmText || i18n.t("common.ok")) +
        "</button></div></div>";
      backdrop.querySelector(".modal__title").textContent = options.title || "";
      var body = backdrop.querySelector(".modal__body");
      if (options.node) {
        body.appendChild(options.node);
      } else {
        body.textContent = options.text || "";
      }

      var onKey = function (event) {
        if (event.key === "Escape") {
          event.preventDefault();
          close();
          return;
        }
        if (event.key !== "Tab") {
          return;
        }
        var items = util.focusable(backdrop);
        if (!items.length) {
          return;
        }
        var first = items[0];
        var last = items[items.length - 1];
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      };

      backdrop.addEventListener("click", function (event) {
        if (event.target === backdrop || event.target.closest("[data-modal-close]")) {
          close();
        }
      });

      current = {
        backdrop: backdrop,
        onKey: onKey,
        returnFocus: document.activeElement,
        overflow: document.body.style.overflow
      };
      document.body.appendChild(backdrop);
      document.body.style.overflow = "hidden";
      document.addEventListener("keydown", onKey, true);
      var focusTarget = backdrop.querySelector(".modal__footer [data-modal-close]");
      if (focusTarget) {
        focusTarget.focus();
      }
      events.emit("modal:opened", { title: options.title });
      return backdrop;
    }

    function showJson(title, data) {
      var pre = document.createElement("pre");
      pre.textContent = JSON.stringify(data, null, 2);
      return open({ title: title, node: pre });
    }

    return { open: open, close: close, showJson: showJson, isOpen: function () { return !!current; } };
  })();

  /* ------------------------------------------------------------------------
   * theme
   * ---------------------------------------------------------------------- */

  var theme = (function () {
    var KEY = "theme";

    function preferred() {
      var stored = storage.get(KEY, null);
      if (stored === "dark" || stored === "light") {
        return stored;
      }
      if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
        return "dark";
      }
      return "light";
    }

    function apply(name) {
      document.documentElement.setAttribute("data-theme", name);
      util.$$("[data-action='toggle-theme']").forEach(function (button) {
        button.textContent = i18n.t(name === "dark" ? "theme.light" : "theme.dark");
        button.setAttribute("aria-pressed", name === "dark" ? "true" : "false");
      });
      var meta = util.$("meta[name='theme-color']");
      if (meta) {
        meta.setAttribute("content", name === "dark" ? "#11263b" : "#1f4e79");
      }
    }

    function toggle() {
      var next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
      storage.set(KEY, next);
      apply(next);
      events.emit("theme:changed", { theme: next });
    }

    function init() {
      apply(preferred());
      util.on(document, "click", "[data-action='toggle-theme']", function (event) {
        event.preventDefault();
        toggle();
      });
      if (window.matchMedia) {
        var query = window.matchMedia("(prefers-color-scheme: dark)");
        var listener = function () {
          if (storage.get(KEY, null) === null) {
            apply(preferred());
          }
        };
        if (query.addEventListener) {
          query.addEventListener("change", listener);
        } else if (query.addListener) {
          query.addListener(listener);
        }
      }
    }

    return { init: init, toggle: toggle, apply: apply };
  })();

  /* ------------------------------------------------------------------------
   * nav
   * ---------------------------------------------------------------------- */

  var nav = (function () {
    function setOpen(toggleButton, menu, open) {
      toggleButton.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("is-open", open);
      var label = toggleButton.querySelector(".visually-hidden");
      if (label) {
        label.textContent = i18n.t(open ? "nav.close" : "nav.open");
      }
    }

    function init() {
      var toggleButton = util.$("[data-action='toggle-nav']");
      var menu = util.$("#main-nav");
      if (!toggleButton || !menu) {
        return;
      }
      toggleButton.addEventListener("click", function () {
        setOpen(toggleButton, menu, toggleButton.getAttribute("aria-expanded") !== "true");
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && menu.classList.contains("is-open")) {
          setOpen(toggleButton, menu, false);
          toggleButton.focus();
        }
      });
      document.addEventListener("click", function (event) {
        if (!menu.classList.contains("is-open")) {
          return;
        }
        if (!menu.contains(event.target) && !toggleButton.contains(event.target)) {
          setOpen(toggleButton, menu, false);
        }
      });
      window.addEventListener(
        "resize",
        util.debounce(function () {
          if (window.innerWidth > 860) {
            setOpen(toggleButton, menu, false);
          }
        }, 150)
      );
    }

    return { init: init };
  })();

  /* ------------------------------------------------------------------------
   * loginForm
   * ---------------------------------------------------------------------- */

  var validators = {
    required: function (value) {
      return value.trim() ? null : i18n.t("login.required");
    },
    username: function (value) {
      return /^[a-z0-9.\-_]+$/.test(value.trim()) ? null : i18n.t("login.username.invalid");
    },
    minlength: function (value, field) {
      var min = parseInt(field.getAttribute("minlength") || "0", 10);
      return value.length >= min ? null : i18n.t("login.password.short");
    }
  };

  var forms = (function () {
    function errorElement(field) {
      var id = field.id + "-error";
      var el = document.getElementById(id);
      if (!el) {
        el = document.createElement("p");
        el.id = id;
        el.className = "form__error";
        el.setAttribute("role", "alert");
        var group = field.closest(".form__group") || field.parentNode;
        group.appendChild(el);
        var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        described.push(id);
        field.setAttribute("aria-describedby", described.join(" "));
      }
      return el;
    }

    function validateField(field) {
      var rules = (field.getAttribute("data-rule") || "").split(/\s+/).filter(Boolean);
      var message = null;
      for (var i = 0; i < rules.length && !message; i++) {
        var rule = validators[rules[i]];
        if (rule) {
          message = rule(field.value || "", field);
        }
      }
      var el = errorElement(field);
      el.textContent = message || "";
      el.hidden = !message;
      field.classList.toggle("is-invalid", !!message);
      field.setAttribute("aria-invalid", message ? "true" : "false");
      return !message;
    }

    function validateForm(form) {
      var fields = util.$$("[data-rule]", form);
      var firstInvalid = null;
      fields.forEach(function (field) {
        if (!validateField(field) && !firstInvalid) {
          firstInvalid = field;
        }
      });
      if (firstInvalid) {
        firstInvalid.focus();
      }
      return !firstInvalid;
    }

    function init() {
      util.$$("form[data-validate]").forEach(function (form) {
        form.addEventListener("submit", function (event) {
          if (!validateForm(form)) {
            event.preventDefault();
            return;
          }
          var submit = form.querySelector("[type=submit]");
          util.setBusy(submit, true, submit && submit.getAttribute("data-loading-text"));
        });
        util.$$("[data-rule]", form).forEach(function (field) {
          field.addEventListener("blur", function () {
            if (field.value) {
              validateField(field);
            }
          });
          field.addEventListener("input", function () {
            if (field.classList.contains("is-invalid")) {
              validateField(field);
            }
          });
        });
      });
    }

    return { init: init, validateForm: validateForm, validateField: validateField };
  })();

  var loginForm = (function () {
    var REMEMBER_KEY = "remembered-username";

    function initPasswordToggle() {
      util.on(document, "click", "[data-action='toggle-password']", function (event, button) {
        var input = document.getElementById(button.getAttribute("aria-controls"));
        if (!input) {
          return;
        }
        var visible = input.type === "text";
        input.type = visible ? "password" : "text";
        button.textContent = i18n.t(visible ? "login.show" : "login.hide");
        button.setAttribute("aria-pressed", visible ? "false" : "true");
        input.focus();
      });
    }

    function initCapsLock() {
      var warning = util.$("[data-caps-warning]");
      var password = util.$("#password");
      if (!warning || !password) {
        return;
      }
      var check = function (event) {
        if (typeof event.getModifierState === "function") {
          warning.hidden = !event.getModifierState("CapsLock");
        }
      };
      password.addEventListener("keydown", check);
      password.addEventListener("keyup", check);
      password.addEventListener("blur", function () {
        warning.hidden = true;
      });
    }

    function initRemember() {
      var checkbox = util.$("[data-remember-username]");
      var username = util.$("#username");
      if (!checkbox || !username) {
        return;
      }
      var remembered = storage.get(REMEMBER_KEY, "");
      if (remembered && !username.value) {
        username.value = remembered;
        checkbox.checked = true;
        var password = util.$("#password");
        if (password) {
          password.focus();
        }
      }
      var form = username.form;
      if (form) {
        form.addEventListener("submit", function () {
          if (checkbox.checked) {
            storage.set(REMEMBER_KEY, username.value.trim());
          } else {
            storage.remove(REMEMBER_KEY);
          }
        });
      }
    }

    function init() {
      if (!document.body.classList.contains("page--login")) {
        return;
      }
      initPasswordToggle();
      initCapsLock();
      initRemember();
      var error = util.$("[data-login-error]");
      if (error) {
        var password = util.$("#password");
        if (password) {
          password.value = "";
          password.focus();
        }
      }
    }

    return { init: init };
  })();

  /* ------------------------------------------------------------------------
   * tasks
   * ---------------------------------------------------------------------- */

  var tasks = (function () {
    var FILTER_KEY = "task-filter";
    var state = {
      filter: "all",
      query: "",
      focusedIndex: -1
    };

    function list() {
      return util.$("[data-task-list]");
    }

    function cards() {
      var root = list();
      return root ? util.$$("[data-task-id]", root) : [];
    }

    function visibleCards() {
      return cards().filter(function (card) {
        return !card.classList.contains("is-hidden");
      });
    }

    function titleOf(card) {
      var el = card.querySelector(".task-card__title");
      return el ? el.textContent.trim() : "#" + card.getAttribute("data-task-id");
    }

    function isDone(card) {
      return card.getAttribute("data-done") === "true";
    }

    function markDone(card, doneAt) {
      var wasDone = isDone(card);
      card.setAttribute("data-done", "true");
      card.classList.add("task-card--done");
      card.classList.remove("just-done");
      void card.offsetWidth;
      card.classList.add("just-done");
      var status = card.querySelector(".task-card__status");
      if (status) {
        status.textContent = "✓";
      }
      var badge = card.querySelector(".badge");
      if (badge) {
        badge.className = "badge badge--success";
        badge.textContent = "erledigt";
      }
      var button = card.querySelector("[data-task-form] [type=submit]");
      if (button) {
        button.classList.remove("button--primary");
        button.classList.add("button--ghost");
        button.setAttribute("aria-pressed", "true");
        button.setAttribute("data-original-text", i18n.t("tasks.button.again"));
      }
      var time = card.querySelector("time[data-relative-time]");
      if (time && doneAt) {
        time.setAttribute("datetime", doneAt);
        time.textContent = util.relativeTime(doneAt);
      }
      return wasDone;
    }

    function updateCounters() {
      var all = cards();
      var done = all.filter(isDone).length;
      var total = all.length;
      var percent = total ? Math.round((100 * done) / total) : 0;
      var set = function (name, value) {
        var el = util.$("[data-stat='" + name + "']");
        if (el) {
          el.textContent = value;
        }
      };
      set("done", util.formatNumber(done));
      set("open", util.formatNumber(total - done));
      set("percent", util.formatNumber(percent) + " %");
      var progress = util.$("[data-progress]");
      if (progress) {
        progress.setAttribute("aria-valuenow", String(percent));
        var bar = progress.querySelector(".progress__bar");
        if (bar) {
          bar.style.width = percent + "%";
        }
      }
      if (total && done === total) {
        events.emit("tasks:all-done", { total: total });
      }
      return { done: done, total: total, percent: percent };
    }

    function submit(form) {
      var card = form.closest("[data-task-id]");
      if (!card || card.classList.contains("is-saving")) {
        return;
      }
      var taskId = card.getAttribute("data-task-id");
      var title = titleOf(card);
      var writeId = util.uid("w" + taskId);
      var button = form.querySelector("[type=submit]");
      card.classList.add("is-saving");
      util.setBusy(button, true, i18n.t("common.saving"));

      http
        .retry(function () {
          return http.post(form.getAttribute("action"), { form: { write_id: writeId } });
        }, 3, 500)
        .then(function (data) {
          var wasDone = markDone(card, new Date().toISOString());
          updateCounters();
          toast.show(i18n.t(wasDone ? "tasks.done.again" : "tasks.done", { title: title }), "success");
          events.emit("task:saved", { taskId: taskId, data: data });
        })
        .catch(function (error) {
          if (error && error.status === 401) {
            toast.show(i18n.t("tasks.session"), "error", { duration: 0 });
            window.setTimeout(function () {
              window.location.href = "/login";
            }, 1500);
            return;
          }
          if (error && error.status === 0) {
            outbox.add({ url: form.getAttribute("action"), taskId: taskId, writeId: writeId, title: title });
            markDone(card, new Date().toISOString());
            updateCounters();
            toast.show(i18n.t("tasks.done.queued", { title: title }), "warning");
            return;
          }
          toast.show(i18n.t("tasks.error", { title: title }) + " " + (error && error.message ? error.message : ""), "error");
        })
        .then(function () {
          card.classList.remove("is-saving");
          util.setBusy(button, false);
        });
    }

    function applyFilter() {
      var query = util.normalize(state.query);
      var shown = 0;
      cards().forEach(function (card) {
        var matchesFilter =
          state.filter === "all" ||
          (state.filter === "done" && isDone(card)) ||
          (state.filter === "open" && !isDone(card));
        var haystack = card.getAttribute("data-search-text");
        if (haystack === null) {
          haystack = util.normalize(card.textContent);
          card.setAttribute("data-search-text", haystack);
        }
        var matchesQuery = !query || query.split(" ").every(function (word) {
          return haystack.indexOf(word) !== -1;
        });
        var visible = matchesFilter && matchesQuery;
        card.classList.toggle("is-hidden", !visible);
        if (visible) {
          shown += 1;
        }
      });
      var empty = util.$("[data-empty-state]");
      if (empty) {
        empty.hidden = shown > 0;
      }
      util.$$("[data-filter]").forEach(function (button) {
        var active = button.getAttribute("data-filter") === state.filter;
        button.classList.toggle("is-active", active);
        button.setAttribute("aria-pressed", active ? "true" : "false");
      });
      return shown;
    }

    function setFilter(filter) {
      state.filter = filter;
      storage.set(FILTER_KEY, filter);
      var shown = applyFilter();
      util.announce(i18n.plural("tasks.count", shown));
    }

    function focusCard(index) {
      var items = visibleCards();
      if (!items.length) {
        return;
      }
      state.focusedIndex = util.clamp(index, 0, items.length - 1);
      var card = items[state.focusedIndex];
      card.setAttribute("tabindex", "-1");
      card.focus();
      if (card.scrollIntoView) {
        card.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    }

    function showShortcuts() {
      var dl = document.createElement("dl");
      var shortcuts = [
        ["/", "Suche fokussieren"],
        ["j / k", "Nächste / vorherige Aufgabe"],
        ["x", "Ausgewählte Aufgabe als erledigt markieren"],
        ["1 / 2 / 3", "Filter: Alle / Offen / Erledigt"],
        ["r", "Fortschritt neu laden"],
        ["?", "Diese Hilfe anzeigen"]
      ];
      shortcuts.forEach(function (pair) {
        var dt = document.createElement("dt");
        var kbd = document.createElement("kbd");
        kbd.textContent = pair[0];
        dt.appendChild(kbd);
        var dd = document.createElement("dd");
        dd.textContent = pair[1];
        dl.appendChild(dt);
        dl.appendChild(dd);
      });
      modal.open({ title: i18n.t("tasks.shortcuts.title"), node: dl });
    }

    function onKeydown(event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || modal.isOpen()) {
        return;
      }
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) {
        if (event.key === "Escape") {
          event.target.blur();
        }
        return;
      }
      switch (event.key) {
        case "/":
          event.preventDefault();
          var search = util.$("[data-task-search]");
          if (search) {
            search.focus();
            search.select();
          }
          break;
        case "j":
          focusCard(state.focusedIndex + 1);
          break;
        case "k":
          focusCard(state.focusedIndex - 1);
          break;
        case "x":
          var items = visibleCards();
          var card = items[state.focusedIndex];
          if (card) {
            var form = card.querySelector("[data-task-form]");
            if (form) {
              submit(form);
            }
          }
          break;
        case "1":
          setFilter("all");
          break;
        case "2":
          setFilter("open");
          break;
        case "3":
          setFilter("done");
          break;
        case "r":
          refresh(true);
          break;
        case "?":
          showShortcuts();
          break;
        default:
          break;
      }
    }

    function applyServerState(data) {
      if (!data || !Array.isArray(data.tasks)) {
        return;
      }
      data.tasks.forEach(function (task) {
        var card = util.$("[data-task-id='" + task.id + "']");
        if (card && task.done && !isDone(card)) {
          markDone(card, task.done_at);
        }
      });
      updateCounters();
      applyFilter();
    }

    function refresh(notify) {
      return http
        .get("/api/progress")
        .then(function (data) {
          applyServerState(data);
          if (notify) {
            toast.show(i18n.t("tasks.refreshed"), "success", { duration: 2000 });
          }
          return data;
        })
        .catch(function (error) {
          if (notify) {
            toast.show(error.message || i18n.t("common.error"), "error");
          }
        });
    }

    function refreshRelativeTimes() {
      util.$$("time[data-relative-time]").forEach(function (el) {
        var value = el.getAttribute("datetime");
        if (value) {
          el.setAttribute("title", util.formatDate(value));
          el.textContent = util.relativeTime(value);
        }
      });
    }

    function init() {
      var root = list();
      if (!root) {
        return;
      }
      util.on(root, "submit", "[data-task-form]", function (event, form) {
        event.preventDefault();
        submit(form);
      });
      util.on(document, "click", "[data-filter]", function (event, button) {
        setFilter(button.getAttribute("data-filter"));
      });
      var search = util.$("[data-task-search]");
      if (search) {
        search.addEventListener(
          "input",
          util.debounce(function () {
            state.query = search.value;
            applyFilter();
          }, 120)
        );
      }
      util.on(document, "click", "[data-action='refresh-progress']", function (event) {
        event.preventDefault();
        refresh(true);
      });
      util.on(document, "click", "[data-action='show-progress-json']", function (event, link) {
        event.preventDefault();
        http.get(link.getAttribute("href")).then(
          function (data) {
            modal.showJson("Fortschritt (JSON)", data);
          },
          function (error) {
            toast.show(error.message, "error");
          }
        );
      });
      document.addEventListener("keydown", onKeydown);
      events.on("tasks:all-done", function () {
        toast.show(i18n.t("tasks.all.done"), "success", { duration: 6000 });
      });
      state.filter = storage.get(FILTER_KEY, "all");
      if (["all", "open", "done"].indexOf(state.filter) === -1) {
        state.filter = "all";
      }
      applyFilter();
      refreshRelativeTimes();
      window.setInterval(refreshRelativeTimes, 60000);
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "visible") {
          refresh(false);
          refreshRelativeTimes();
        }
      });
    }

    return { init: init, refresh: refresh, setFilter: setFilter, updateCounters: updateCounters };
  })();

  /* ------------------------------------------------------------------------
   * tables
   * ---------------------------------------------------------------------- */

  var tables = (function () {
    var collator = typeof Intl !== "undefined" && Intl.Collator
      ? new Intl.Collator(i18n.locale, { numeric: true, sensitivity: "base" })
      : null;

    function cellValue(row, index, type) {
      var cell = row.children[index];
      var text = cell ? (cell.getAttribute("data-value") || cell.textContent).trim() : "";
      if (type === "number") {
        var match = text.replace(/\./g, "").replace(",", ".").match(/-?\d+(\.\d+)?/);
        return match ? parseFloat(match[0]) : -Infinity;
      }
      if (type === "date") {
        var date = util.parseDate(text);
        return date ? date.getTime() : 0;
      }
      return text;
    }

    function compare(a, b, type) {
      if (type === "number" || type === "date") {
        return a - b;
      }
      return collator ? collator.compare(a, b) : String(a).localeCompare(String(b));
    }

    function sortBy(table, header) {
      var headers = util.$$("th", header.parentNode);
      var index = headers.indexOf(header);
      var type = header.getAttribute("data-sort") || "text";
      var direction = header.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
      headers.forEach(function (th) {
        th.removeAttribute("aria-sort");
      });
      header.setAttribute("aria-sort", direction);
      var body = table.tBodies[0];
      if (!body) {
        return;
      }
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (ra, rb) {
        var result = compare(cellValue(ra, index, type), cellValue(rb, index, type), type);
        return direction === "ascending" ? result : -result;
      });
      var fragment = document.createDocumentFragment();
      rows.forEach(function (row) {
        fragment.appendChild(row);
      });
      body.appendChild(fragment);
    }

    function init() {
      util.$$("table[data-sortable]").forEach(function (table) {
        util.$$("th[data-sort]", table).forEach(function (th) {
          th.setAttribute("tabindex", "0");
          th.setAttribute("role", "columnheader button");
          th.addEventListener("click", function () {
            sortBy(table, th);
          });
          th.addEventListener("keydown", function (event) {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              sortBy(table, th);
            }
          });
        });
      });
    }

    return { init: init, sortBy: sortBy };
  })();

  /* ------------------------------------------------------------------------
   * accordion
   * ---------------------------------------------------------------------- */

  var accordion = (function () {
    function openFromHash() {
      var hash = window.location.hash;
      if (!hash || hash.length < 2) {
        return;
      }
      var target;
      try {
        target = document.querySelector(hash);
      } catch (e) {
        return;
      }
      if (target && target.tagName && target.tagName.toLowerCase() === "details") {
        target.open = true;
      }
    }

    function init() {
      util.$$("[data-accordion]").forEach(function (root) {
        var exclusive = root.getAttribute("data-accordion") !== "multi";
        util.$$("details", root).forEach(function (item) {
          item.addEventListener("toggle", function () {
            if (!item.open || !exclusive) {
              return;
            }
            util.$$("details", root).forEach(function (other) {
              if (other !== item) {
                other.open = false;
              }
            });
          });
        });
      });
      openFromHash();
      window.addEventListener("hashchange", openFromHash);
    }

    return { init: init };
  })();

  /* ------------------------------------------------------------------------
   * uploads
   * ---------------------------------------------------------------------- */

  var uploads = (function () {
    var DEFAULT_MAX = 64 * 1024 * 1024;

    function maxSize(zone) {
      var value = parseInt(zone.getAttribute("data-max-bytes") || "", 10);
      return isNaN(value) ? DEFAULT_MAX : value;
    }

    function renderItem(listEl, file) {
      var item = document.createElement("li");
      item.className = "upload-list__item";
      item.innerHTML =
        '<span class="upload-list__name"></span>' +
        '<span class="upload-list__size"></span>' +
        '<div class="progress"><div class="progress__bar" style="width:0%"></div></div>';
      item.querySelector(".upload-list__name").textContent = file.name;
      item.querySelector(".upload-list__size").textContent = util.formatBytes(file.size);
      listEl.appendChild(item);
      return item;
    }

    function send(url, file, onProgress) {
      return new Promise(function (resolve, reject) {
        var xhr = new XMLHttpRequest();
        var data = new FormData();
        data.append("file", file, file.name);
        xhr.open("POST", url);
        xhr.setRequestHeader("Accept", "application/json");
        xhr.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) {
            onProgress(event.loaded / event.total);
          }
        });
        xhr.addEventListener("load", function () {
          var body = null;
          try {
            body = JSON.parse(xhr.responseText);
          } catch (e) {
            body = null;
          }
          if (xhr.status >= 200 && xhr.status < 300) {
            resolve(body);
          } else {
            reject(new HttpError(body && body.error ? body.error : i18n.t("http.status." + xhr.status), xhr.status, body));
          }
        });
        xhr.addEventListener("error", function () {
          reject(new HttpError(i18n.t("http.network"), 0));
        });
        xhr.send(data);
      });
    }

    function handleFiles(zone, files) {
      var listEl = zone.parentNode.querySelector(".upload-list");
      if (!listEl) {
        listEl = document.createElement("ul");
        listEl.className = "upload-list";
        zone.parentNode.insertBefore(listEl, zone.nextSibling);
      }
      var url = zone.getAttribute("data-upload-url") || "/upload";
      var max = maxSize(zone);
      Array.prototype.forEach.call(files, function (file) {
        if (file.size > max) {
          toast.show(i18n.t("upload.too.large", { name: file.name, max: util.formatBytes(max) }), "error");
          return;
        }
        var item = renderItem(listEl, file);
        var bar = item.querySelector(".progress__bar");
        send(url, file, function (fraction) {
          bar.style.width = Math.round(fraction * 100) + "%";
        }).then(
          function (result) {
            bar.style.width = "100%";
            toast.show(i18n.t("upload.done", { name: result.name, size: util.formatBytes(result.size) }), "success");
            events.emit("upload:done", result);
          },
          function (error) {
            item.classList.add("is-failed");
            toast.show(i18n.t("upload.failed", { name: file.name }) + " " + error.message, "error");
          }
        );
      });
    }

    function init() {
      util.$$("[data-dropzone]").forEach(function (zone) {
        var input = zone.querySelector("input[type=file]");
        zone.addEventListener("click", function (event) {
          if (input && event.target !== input) {
            input.click();
          }
        });
        if (input) {
          input.addEventListener("change", function () {
            handleFiles(zone, input.files);
            input.value = "";
          });
        }
        ["dragenter", "dragover"].forEach(function (type) {
          zone.addEventListener(type, function (event) {
            event.preventDefault();
            zone.classList.add("is-dragover");
          });
        });
        ["dragleave", "drop"].forEach(function (type) {
          zone.addEventListener(type, function (event) {
            event.preventDefault();
            zone.classList.remove("is-dragover");
          });
        });
        zone.addEventListener("drop", function (event) {
          if (event.dataTransfer && event.dataTransfer.files) {
            handleFiles(zone, event.dataTransfer.files);
          }
        });
      });
    }

    return { init: init, send: send };
  })();

  /* ------------------------------------------------------------------------
   * Verbindung, Start
   * ---------------------------------------------------------------------- */

  function initConnectivity() {
    window.addEventListener("offline", function () {
      document.documentElement.classList.add("is-offline");
      toast.show(i18n.t("app.offline"), "warning", { duration: 0 });
    });
    window.addEventListener("online", function () {
      document.documentElement.classList.remove("is-offline");
      toast.show(i18n.t("app.online"), "success");
      outbox.flush();
    });
    if (navigator.onLine && outbox.size()) {
      outbox.flush();
    }
  }

  function initDebug() {
    if (!/[?&]debug=1\b/.test(window.location.search)) {
      return;
    }
    events.on("http:response", function (info) {
      window.console.log("[lernmanager]", info.method, info.url, info.status, info.duration + " ms");
    });
    window.console.log("[lernmanager] Version", VERSION, "Rolle:", document.body.getAttribute("data-user-role"));
  }

  function start() {
    document.documentElement.classList.add("js");
    theme.init();
    nav.init();
    forms.init();
    loginForm.init();
    tasks.init();
    tables.init();
    accordion.init();
    uploads.init();
    initConnectivity();
    initDebug();
    events.emit("app:ready", { version: VERSION });
  }

  window.Lernmanager = {
    version: VERSION,
    i18n: i18n,
    util: util,
    storage: storage,
    events: events,
    http: http,
    outbox: outbox,
    toast: toast,
    modal: modal,
    theme: theme,
    tasks: tasks
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(window, document);
