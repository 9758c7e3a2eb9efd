# Lernmanager demo app: topic pages, written in Markdown and rendered on every request.
#
# Like the real app's topic page (measured there: about 35 KB of HTML): the topic's Markdown text
# (headings, paragraphs, lists, tables, code, quotes) goes through python-markdown on every request,
# inside the site layout, for a logged-in student. GET /topics/<id>: 200, or a redirect to /login
# without a session, 404 for an unknown topic.

import markdown
from flask import abort, redirect, render_template, url_for

EXTENSIONS = ["tables", "fenced_code", "sane_lists"]

_SUBJECTS = [
    ("Licht und Blattgrün", "Chlorophyll", "Lichtreaktion"),
    ("Wasser und Nährsalze", "Wurzelhaare", "Transpiration"),
    ("Kohlenstoffdioxid", "Spaltöffnungen", "Calvin-Zyklus"),
    ("Traubenzucker und Stärke", "Speicherorgane", "Zellatmung"),
    ("Sauerstoff", "Fotolyse", "Atmosphäre"),
    ("Temperatur", "Enzyme", "Optimumkurve"),
    ("Versuche im Unterricht", "Iodprobe", "Kontrollansatz"),
    ("Pflanzen im Jahreslauf", "Laubfall", "Reservestoffe"),
    ("Nahrungsketten", "Produzenten", "Energiefluss"),
    ("Gewächshaus und Landwirtschaft", "Beleuchtung", "Ertragssteigerung"),
]


def _section(n, title, term, process):
    rows = "\n".join(
        f"| {n}.{i} | {term} bei {10 * i} °C | {round(0.8 + 0.37 * i * n, 2)} | {'ja' if (i + n) % 2 else 'nein'} |"
        for i in range(1, 7)
    )
    return f"""
## {n}. {title}

Im Abschnitt **{title}** lernst du, wie *{term}* und der Vorgang `{process}` zusammenhängen. Lies den
Text zuerst ganz durch, markiere unbekannte Begriffe und schlage sie im [Glossar](#glossar) nach.
Danach bearbeitest du die Aufgaben am Ende des Abschnitts in deinem Heft oder direkt im Lernmanager.

Pflanzen bauen aus einfachen Stoffen energiereiche Verbindungen auf. Dabei spielt {term} eine
zentrale Rolle: Ohne sie könnte die {process} nicht ablaufen, und die Pflanze hätte keine Energie für
Wachstum, Blüte und Samenbildung. Beobachte im Versuch, was geschieht, wenn eine Bedingung fehlt.

### Das Wichtigste in Kürze

- {term} ist an der {process} beteiligt.
- Die Geschwindigkeit hängt von Licht, Temperatur und dem Angebot an Kohlenstoffdioxid ab.
- Ein Versuch braucht immer einen **Kontrollansatz**, sonst ist das Ergebnis nicht aussagekräftig.

### Messwerte aus dem Schülerversuch

| Nr. | Bedingung | Gasbläschen pro Minute | Kontrolle |
|---|---|---:|:---:|
{rows}

> **Merke:** Ein einzelner Messwert sagt wenig aus. Wiederhole jeden Versuch mindestens dreimal
> und bilde den Mittelwert, bevor du eine Aussage über {term} triffst.

### Aufgaben

1. Beschreibe mit eigenen Worten, welche Rolle {term} bei der {process} spielt.
2. Zeichne ein Diagramm der Messwerte (x-Achse: Bedingung, y-Achse: Gasbläschen pro Minute).
3. Erkläre, warum der Kontrollansatz nötig ist, und nenne eine mögliche Fehlerquelle.
4. *Zusatz:* Plane einen eigenen Versuch zu {title.lower()} und stelle eine Hypothese auf.

```text
Versuchsprotokoll {n}
Frage:        Wie beeinflusst {term} die {process}?
Material:     Wasserpest, Becherglas, Lampe, Thermometer, Stoppuhr
Durchführung: Bläschen 3 x 1 Minute zählen, Mittelwert bilden
```
"""


def _build(title):
    parts = [
        f"# {title}\n\nDieses Thema gehört zur Unterrichtsreihe *Stoffwechsel der Pflanzen* "
        "(Klasse 7). Bearbeite die Abschnitte der Reihe nach; zu jedem gibt es Aufgaben und einen Versuch.\n"
    ]
    parts += [_section(i + 1, *subject) for i, subject in enumerate(_SUBJECTS)]
    parts.append(
        "\n## Glossar\n\n"
        + "\n".join(f"- **{term}**: Fachbegriff aus Abschnitt {i + 1} ({t})." for i, (t, term, _) in enumerate(_SUBJECTS))
        + "\n"
    )
    return "".join(parts)


# The topics' Markdown sources (the real app keeps them in its database).
TOPICS = {1: ("Fotosynthese", _build("Fotosynthese")), 2: ("Stoffwechsel", _build("Stoffwechsel"))}


def render_topic(topic_id):
    """(title, HTML) of a topic, rendered now; None for an unknown id."""
    topic = TOPICS.get(topic_id)
    if topic is None:
        return None
    title, text = topic
    return title, markdown.markdown(text, extensions=EXTENSIONS, output_format="html")


def register_topics(app, current_user):
    """Adds GET /topics/<id> (app.py passes its session lookup)."""

    @app.get("/topics/<int:topic_id>")
    def topic(topic_id):
        user = current_user()
        if user is None:
            return redirect(url_for("login"))
        rendered = render_topic(topic_id)
        if rendered is None:
            abort(404)
        title, body = rendered
        return render_template("topic.html", user=user, title=title, body=body)
