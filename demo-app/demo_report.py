# Lernmanager demo app: the class report as a PDF (reportlab), the slow page
# that the report cache makes cheap.

import io
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from demo_db import get_db


def format_date(value):
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%d.%m.%Y, %H:%M")
    except ValueError:
        return value


def build_class_report(class_id):
    db = get_db()
    klass = db.execute("SELECT id, name FROM classes WHERE id = ?", (class_id,)).fetchone()
    if klass is None:
        return None
    students = db.execute(
        "SELECT id, username FROM users WHERE class_id = ? AND role = 'student' ORDER BY username",
        (class_id,),
    ).fetchall()
    tasks = db.execute("SELECT id, title, description FROM tasks ORDER BY id").fetchall()
    done = {}
    for r in db.execute(
        "SELECT p.user_id, p.task_id, p.done_at FROM progress p JOIN users u ON u.id = p.user_id "
        "WHERE u.class_id = ?",
        (class_id,),
    ):
        done[(r["user_id"], r["task_id"])] = r["done_at"]
    return render_class_report(klass, students, tasks, done)


def render_class_report(klass, students, tasks, done):
    # klass, students and tasks are database rows; done maps (student id, task id) to done_at.
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    created = datetime.now().strftime("%d.%m.%Y %H:%M")
    story = [
        Paragraph("Lernstandsbericht Klasse %s" % klass["name"], styles["Title"]),
        Paragraph(
            "Erstellt am %s &middot; %d Schülerinnen und Schüler &middot; %d Aufgaben"
            % (created, len(students), len(tasks)),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]

    # Overview: students x tasks.
    header = ["Name"] + ["A%d" % (i + 1) for i in range(len(tasks))] + ["Summe", "%"]
    matrix = [header]
    for s in students:
        marks = ["x" if (s["id"], t["id"]) in done else "-" for t in tasks]
        n = marks.count("x")
        pct = round(100 * n / len(tasks)) if tasks else 0
        matrix.append([s["username"]] + marks + [str(n), "%d %%" % pct])
    totals = ["Erledigt"]
    for t in tasks:
        totals.append(str(sum(1 for s in students if (s["id"], t["id"]) in done)))
    totals += ["", ""]
    matrix.append(totals)

    table = Table(matrix, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ALIGN", (1, 0), (-1, -1), "CENTER"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa7b4")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#eef3f8")]),
        ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#dde7f0")),
    ]
    for row_index, s in enumerate(students, start=1):
        for col_index, t in enumerate(tasks, start=1):
            if (s["id"], t["id"]) in done:
                style.append(("TEXTCOLOR", (col_index, row_index), (col_index, row_index), colors.HexColor("#1b7a3a")))
    table.setStyle(TableStyle(style))
    story += [Paragraph("Übersicht", styles["Heading2"]), table, PageBreak()]

    # Legend of tasks.
    story.append(Paragraph("Aufgaben", styles["Heading2"]))
    legend = [["Nr.", "Titel", "Beschreibung"]]
    for i, t in enumerate(tasks, start=1):
        legend.append(["A%d" % i, Paragraph(t["title"], small), Paragraph(t["description"], small)])
    legend_table = Table(legend, colWidths=[12 * mm, 60 * mm, 180 * mm], repeatRows=1)
    legend_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa7b4")),
            ]
        )
    )
    story += [legend_table, PageBreak()]

    # Details per task: who finished when.
    story.append(Paragraph("Details je Aufgabe", styles["Heading2"]))
    for i, t in enumerate(tasks, start=1):
        story.append(Paragraph("A%d – %s" % (i, t["title"]), styles["Heading3"]))
        rows = [["Name", "Status", "Erledigt am"]]
        for s in students:
            at = done.get((s["id"], t["id"]))
            rows.append([s["username"], "erledigt" if at else "offen", format_date(at)])
        detail = Table(rows, colWidths=[50 * mm, 30 * mm, 50 * mm], repeatRows=1)
        detail.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
                    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde7f0")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c3ccd6")),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ]
            )
        )
        story += [detail, Spacer(1, 4 * mm)]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(15 * mm, 8 * mm, "Lernmanager – Klasse %s" % klass["name"])
        canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm, "Seite %d" % doc.page)
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Lernstandsbericht Klasse %s" % klass["name"],
        author="Lernmanager",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
