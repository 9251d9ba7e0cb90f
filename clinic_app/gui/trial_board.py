"""The trial board window: 3+3 escalation, enrolment, response rates and Kaplan-Meier curves.

Everything shown comes from :func:`clinic_app.services.trial.build_overview`; the window only
lays it out. It re-reads the record when asked (``refresh``, F5 / the platform's Refresh key)
and whenever it becomes the active window, so a DLT review confirmed in another window shows
at once when the user comes back. It offers no way to enrol: enrolment goes through the
enrolment dialog, which asks the same 3+3 engine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAction,
    QFontMetrics,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.day_words import day_text
from clinic_app.core.errors import DomainError
from clinic_app.core.escalation import DecisionKind, EscalationDecision, LevelState
from clinic_app.core.protocol import Protocol
from clinic_app.core.survival import KaplanMeier
from clinic_app.gui import fit
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.table_model import SORT_KEY, TextRowsModel
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.services.context import record_protocols
from clinic_app.services.trial import SurvivalCurve, TrialOverview, build_overview
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

_Index = QModelIndex | QPersistentModelIndex


# A read-only table of text rows (the board, the patients, the rates).
RowsModel = TextRowsModel


LEVEL_HEADERS = (
    "Level",
    "Doses",
    "State",
    "Treated\n(all)",
    "DLT yes\n(3+3 cohort)",
    "DLT no\n(3+3 cohort)",
    "Pending\n(3+3 cohort)",
    "Not\nevaluable",
    "In\nexpansion",
    "Why closed",
)
LEVEL_HEADER_TIPS = (
    "Dose level",
    "The doses given at this level",
    "Open, full, too toxic, the MTD, or not started",
    "Everyone enrolled at this level: 3+3 cohort, expansion and not evaluable",
    "Patients of the level's 3+3 cohort with a confirmed DLT",
    "Patients of the level's 3+3 cohort with no DLT",
    "Patients of the level's 3+3 cohort whose DLT result is not known yet",
    "Patients not toxicity-evaluable (replaced in the 3+3 cohort)",
    "Patients enrolled at this level in expansion",
    "Why the level takes no more patients",
)


def _table(model: RowsModel, parent: QWidget) -> tuple[QTableView, QSortFilterProxyModel]:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_KEY)
    view = QTableView(parent)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setWordWrap(True)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    view.verticalHeader().setVisible(False)
    # Every column inside the window (a 1366 px laptop too): long texts wrap in their cell
    # instead of pushing columns off to the right.
    fitter = fit.ColumnFitter(view, [range(model.columnCount())], fill=view.resizeColumnsToContents)
    model.modelReset.connect(fitter.refit)
    return view, proxy


def _label(parent: QWidget, *, bold: bool = False) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if bold:
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        label.setFont(font)
    return label


class KmPlot(QWidget):
    """One Kaplan-Meier curve: estimate, dashed 95 % band, censor ticks, numbers at risk."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curve: SurvivalCurve | None = None
        metrics = QFontMetrics(self.font())
        self.setMinimumHeight(metrics.height() * 16)
        self.setMinimumWidth(metrics.horizontalAdvance("0") * 50)

    def set_curve(self, curve: SurvivalCurve) -> None:
        self.curve = curve
        self.setAccessibleName(f"Kaplan-Meier plot: {curve.label}")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        text_pen = QPen(palette.text().color())
        painter.setPen(text_pen)
        metrics = QFontMetrics(self.font())
        line = metrics.height()
        curve = self.curve
        if curve is None or curve.km is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No data yet")
            return
        km = curve.km
        left = metrics.horizontalAdvance("At risk ") + line
        right = self.width() - metrics.horizontalAdvance(" days ") - line / 2
        top = line
        bottom = self.height() - 3 * line
        ticks = curve.at_risk_times
        max_days = max(ticks[-1], max(s.time_days for s in km.steps))
        if max_days > ticks[-1] and len(ticks) > 1:
            max_days = ticks[-1] + ticks[1] - ticks[0]
        max_days = max(max_days, 1)

        def x(days: float) -> float:
            return left + (right - left) * days / max_days

        def y(survival: float) -> float:
            return bottom - (bottom - top) * survival

        painter.drawLine(QPointF(left, bottom), QPointF(right, bottom))
        painter.drawLine(QPointF(left, bottom), QPointF(left, top))
        for frac in (0.0, 0.5, 1.0):
            text = f"{int(frac * 100)} %"
            painter.drawText(
                QPointF(left - metrics.horizontalAdvance(text) - 4, y(frac) + metrics.ascent() / 2),
                text,
            )
        for t, n in zip(ticks, curve.at_risk, strict=True):
            painter.drawLine(QPointF(x(t), bottom), QPointF(x(t), bottom + 4))
            for text, row in ((str(t), 1), (str(n), 2)):
                width = metrics.horizontalAdvance(text)
                painter.drawText(QPointF(x(t) - width / 2, bottom + row * line + 2), text)
        painter.drawText(QPointF(right + 4, bottom + metrics.ascent() / 2), "days")
        painter.drawText(QPointF(2, bottom + 2 * line + 2), "At risk")

        colour = palette.highlight().color()
        for pick, style, pen_width in (
            ("lower", Qt.PenStyle.DashLine, 1.0),
            ("upper", Qt.PenStyle.DashLine, 1.0),
            ("survival", Qt.PenStyle.SolidLine, 2.0),
        ):
            pen = QPen(colour, pen_width, style)
            painter.setPen(pen)
            self._steps(painter, km, pick, x, y, max_days)
        painter.setPen(QPen(palette.text().color(), 1.5))
        for time_days, survival in km.censor_marks:
            painter.drawLine(
                QPointF(x(time_days), y(survival) - 5), QPointF(x(time_days), y(survival) + 5)
            )

    @staticmethod
    def _steps(
        painter: QPainter,
        km: KaplanMeier,
        pick: str,
        x: Callable[[float], float],
        y: Callable[[float], float],
        end: int,
    ) -> None:
        value, last_x = 1.0, 0.0
        for step in km.steps:
            new = float(getattr(step, pick))
            if new == value:
                continue
            at = float(step.time_days)
            painter.drawLine(QPointF(x(last_x), y(value)), QPointF(x(at), y(value)))
            painter.drawLine(QPointF(x(at), y(value)), QPointF(x(at), y(new)))
            value, last_x = new, at
        painter.drawLine(QPointF(x(last_x), y(value)), QPointF(x(end), y(value)))


def state_text(state: LevelState, decision: EscalationDecision | None) -> str:
    """The level's state in the words of the headline: the top level recommended because
    no level was too toxic is "recommended (MTD not reached)", never "MTD"."""
    if (
        state is LevelState.MTD
        and decision is not None
        and decision.kind is DecisionKind.MTD_NOT_REACHED
    ):
        return "recommended (MTD not reached)"
    return state.value


COHORT_WORDS = {"escalation": "3+3 cohort", "expansion": "expansion"}


def cohort_text(cohort: str | None) -> str:
    """The cohort stored with the enrolment, in the board's words. The enrolment records it
    when the patient is enrolled; a record without one says so rather than being guessed
    from the 3+3 counts (issue 14)."""
    if not cohort:
        return "not recorded"
    return COHORT_WORDS.get(cohort, cohort)


class TrialBoardWindow(QMainWindow):
    """The trial board of one protocol at a time, read from ``record``."""

    def __init__(
        self,
        record: Record,
        protocols: dict[str, Protocol] | None = None,
        *,
        today: date | None = None,
        user: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.protocols = protocols if protocols is not None else record_protocols(record)
        self.today = today
        self.user = user or record.actor
        self.overview: TrialOverview | None = None
        self._owner: QWidget | None = None
        self._build()
        self.refresh()
        self.fit_columns()

    # -- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        bar = QHBoxLayout()
        self.protocol_box = QComboBox(central)
        for key, protocol in self.protocols.items():
            self.protocol_box.addItem(f"{protocol.name} ({key})", key)
        escalating = next((k for k, p in self.protocols.items() if p.dose_levels), None)
        if escalating is not None:
            self.protocol_box.setCurrentIndex(self.protocol_box.findData(escalating))
        protocol_label = QLabel("&Protocol:", central)
        protocol_label.setBuddy(self.protocol_box)
        self.refresh_button = QPushButton("&Refresh", central)
        self.report_button = QPushButton("&Trial report…", central)
        bar.addWidget(protocol_label)
        bar.addWidget(self.protocol_box)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.report_button)
        outer.addLayout(bar)
        self.stamp_label = _label(central)
        outer.addWidget(self.stamp_label)

        self.tabs = QTabWidget(central)
        outer.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        # escalation
        page = QWidget(self.tabs)
        box = QVBoxLayout(page)
        self.decision_label = _label(page, bold=True)
        self.reason_label = _label(page)
        self.next_label = _label(page)
        self.cap_label = _label(page)
        for widget in (self.decision_label, self.reason_label, self.next_label, self.cap_label):
            box.addWidget(widget)
        # The DLT counts are the 3+3 cohort's (what the decision reads); expansion patients
        # are counted in "Treated (all)" and their own column, so a DLT in expansion listed
        # below is not mistaken for a miscount. Two-line headers keep the table inside a
        # 1366 px screen; each says in full what it counts in its tooltip.
        self.levels_model = RowsModel(
            LEVEL_HEADERS,
            self,
            header_tips=LEVEL_HEADER_TIPS,
        )
        self.levels_view, _ = _table(self.levels_model, page)
        box.addWidget(self.levels_view, 1)
        self.patients_model = RowsModel(
            [
                "Level",
                "Cohort",
                "Patient",
                "MRN",
                "Enrolled",
                "Toxicity-evaluable",
                "DLT status",
            ],
            self,
        )
        self.patients_view, _ = _table(self.patients_model, page)
        box.addWidget(self.patients_view, 1)
        self.escalation_index = self.tabs.addTab(page, "&Escalation")

        # enrolment
        page = QWidget(self.tabs)
        box = QVBoxLayout(page)
        self.caps_model = RowsModel(["Cap", "Enrolled"], self)
        self.caps_view, _ = _table(self.caps_model, page)
        box.addWidget(self.caps_view)
        self.enrolment_label = _label(page)
        box.addWidget(self.enrolment_label)
        box.addStretch(1)
        self.tabs.addTab(page, "E&nrolment")

        # response
        page = QWidget(self.tabs)
        box = QVBoxLayout(page)
        self.rates_model = RowsModel(["Rate", "Responders / evaluable (95 % CI, exact)"], self)
        self.rates_view, _ = _table(self.rates_model, page)
        box.addWidget(self.rates_view)
        self.responses_model = RowsModel(
            ["Patient", "MRN", "Level", "Cycles", "Initial response", "Best", "Notes"], self
        )
        self.responses_view, _ = _table(self.responses_model, page)
        box.addWidget(self.responses_view, 1)
        self.excluded_model = RowsModel(["Patient", "MRN", "Not evaluable because"], self)
        self.excluded_view, _ = _table(self.excluded_model, page)
        box.addWidget(self.excluded_view)
        self.tabs.addTab(page, "Re&sponse")

        # Kaplan-Meier
        scroll = QScrollArea(self.tabs)
        scroll.setWidgetResizable(True)
        page = QWidget(scroll)
        box = QVBoxLayout(page)
        self.km_titles: list[QLabel] = []
        self.km_plots: list[KmPlot] = []
        for _ in range(3):
            title = _label(page, bold=True)
            plot = KmPlot(page)
            self.km_titles.append(title)
            self.km_plots.append(plot)
            box.addWidget(title)
            box.addWidget(plot)
        scroll.setWidget(page)
        self.tabs.addTab(scroll, "&Kaplan-Meier")

        self.close_action = QAction("Close", self)
        self.close_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Close))
        self.close_action.triggered.connect(self.close)
        self.addAction(self.close_action)
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Refresh))
        self.refresh_action.triggered.connect(self.refresh)
        self.addAction(self.refresh_action)
        self.refresh_button.clicked.connect(self.refresh)
        self.report_button.clicked.connect(self.ask_report_path)
        self.protocol_box.currentIndexChanged.connect(self.refresh)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Esc closes the board like a dialog, wherever the focus is (a key no child used).
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def follow(self, owner: QWidget) -> None:
        """Close together with ``owner`` (the main window), so quitting it ends the program."""
        self._owner = owner
        owner.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._owner and event.type() == QEvent.Type.Close:
            # After the owner's own handler: it may refuse to close (unsaved work).
            QTimer.singleShot(0, self._close_if_owner_closed)
        return super().eventFilter(watched, event)

    def _close_if_owner_closed(self) -> None:
        if self._owner is not None and not self._owner.isVisible():
            self.close()

    def fit_columns(self) -> None:
        """Open wide enough for the escalation table's columns, but within the screen."""
        self.levels_view.resizeColumnsToContents()
        self.patients_view.resizeColumnsToContents()
        frame = 2 * self.levels_view.frameWidth() + self.levels_view.verticalHeader().width()
        needed = self.levels_view.horizontalHeader().length() + frame + 60
        needed = max(needed, self.patients_view.horizontalHeader().length() + frame + 60)
        limit = fit.largest(self)
        self.resize(min(max(needed, 900), limit.width()), min(820, limit.height()))

    # -- data ------------------------------------------------------------------------------------
    @property
    def protocol(self) -> Protocol:
        return self.protocols[str(self.protocol_box.currentData())]

    def refresh(self) -> None:
        """Re-read the record and show the board as it is now."""
        protocol = self.protocol
        try:
            overview = build_overview(self.record, protocol, self.today or date.today())
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.overview = overview
        self.setWindowTitle(f"Trial board · {protocol.name}")
        self.stamp_label.setText(
            f"Data as of {day_text(overview.as_of)} · record version {overview.record_version}"
        )
        self._show_board(overview)
        self._show_enrolment(overview)
        self._show_endpoints(overview)

    def _show_board(self, overview: TrialOverview) -> None:
        board = overview.board
        self.tabs.setTabEnabled(self.escalation_index, board is not None)
        if board is None:
            self.decision_label.setText(f"{overview.protocol_name} has no dose escalation.")
            for label in (self.reason_label, self.next_label, self.cap_label):
                label.clear()
            self.levels_model.set_rows([])
            self.patients_model.set_rows([])
            return
        prefix = "" if board.decision is not None else f"{WARNING_SIGN} "
        self.decision_label.setText(f"{prefix}Decision: {board.decision_text}")
        self.reason_label.setText(board.reason)
        self.next_label.setText(board.next_patient)
        self.cap_label.setText(f"Note on the caps: {board.cap_note}" if board.cap_note else "")
        self.levels_model.set_rows(
            [
                [
                    str(b.level),
                    b.doses,
                    state_text(b.row.state, board.decision),
                    str(b.row.treated),
                    str(b.row.dlt_yes),
                    str(b.row.dlt_no),
                    str(b.row.dlt_pending),
                    str(b.row.not_evaluable),
                    str(b.row.expansion),
                    b.closed_reason or "",
                ]
                for b in board.levels
            ]
        )
        evaluable = {True: "yes", False: "no (replaced)", None: "not yet known"}
        patients = [p for b in board.levels for p in b.patients]
        self.patients_model.set_rows(
            [
                [
                    str(p.level),
                    cohort_text(p.cohort),
                    p.full_name,
                    p.mrn,
                    day_text(p.enrolled_on),
                    evaluable[p.evaluable],
                    p.status_text,
                ]
                for p in patients
            ],
            # Level 10 after level 9, and "5 Jan" after "19 Dec" of the year before.
            sort_keys=[[p.level, None, None, None, p.enrolled_on.isoformat()] for p in patients],
        )

    def _show_enrolment(self, overview: TrialOverview) -> None:
        summary = overview.enrolment
        self.caps_model.set_rows([[c.label, c.text] for c in summary.caps])
        reasons = ", ".join(f"{r} {n}" for r, n in summary.off_study_reasons)
        lines = [
            f"In screening {summary.screening} · active {summary.active} · maintenance "
            f"{summary.maintenance} · off study {summary.off_study}"
            + (f" ({reasons})" if reasons else "")
        ]
        if summary.cap_note:
            lines.append(f"Note: {summary.cap_note}")
        for o in summary.off_before_treatment:
            lines.append(f"Off study before cycle 1: {o.full_name} (MRN {o.mrn}): {o.reason}")
        self.enrolment_label.setText("\n".join(lines))

    def _show_endpoints(self, overview: TrialOverview) -> None:
        endpoints = overview.endpoints
        from clinic_app.reports.trial_report import (  # ReportLab loads on first use
            NO_ENDPOINTS,
            initial_response_header,
            rates_rows,
        )

        self.rates_model.set_rows(rates_rows(endpoints)[1:])
        initial = initial_response_header(endpoints)  # "After cycle 2": the protocol's cycle
        self.responses_model.set_headers(
            ["Patient", "MRN", "Level", "Cycles", initial, "Best", "Notes"]
        )
        rows = []
        for p in endpoints.patients:
            after = "—" if p.initial_response is None else p.initial_response.value
            if p.initial_response is not None and not p.initial_response_confirmed:
                after += " (unconfirmed)"
            best = "—" if p.best_response is None else p.best_response.value
            if p.best_unconfirmed is not None:
                best += f"; {p.best_unconfirmed.value} seen once"
            level = "—" if p.dose_level is None else str(p.dose_level)
            rows.append(
                [
                    p.full_name,
                    p.mrn,
                    level,
                    str(p.cycles_completed),
                    after,
                    best,
                    "; ".join(p.notes),
                ]
            )
        self.responses_model.set_rows(rows)
        self.excluded_model.set_rows(
            [[e.full_name, e.mrn, e.reason] for e in endpoints.not_evaluable]
        )
        for title, plot in zip(self.km_titles, self.km_plots, strict=True):
            # A protocol without endpoint definitions has no curves.
            title.setVisible(bool(endpoints.curves))
            plot.setVisible(bool(endpoints.curves))
        if not endpoints.curves and self.km_titles:
            self.km_titles[0].setText(NO_ENDPOINTS)
            self.km_titles[0].setVisible(True)
        for title, plot, curve in zip(
            self.km_titles, self.km_plots, endpoints.curves, strict=False
        ):
            text = f"{curve.label[0].upper()}{curve.label[1:]} ({curve.origin})"
            if curve.km is not None:
                text += f": median {curve.km.median_summary()}"
            title.setText(text)
            plot.set_curve(curve)

    # -- report ----------------------------------------------------------------------------------
    def ask_report_path(self) -> None:
        name = f"trial-report-{self.protocol.key}-{(self.today or date.today()).isoformat()}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Save the trial report", name, "PDF (*.pdf)")
        if path:
            self.write_report(Path(path))

    def write_report(self, path: Path) -> None:
        """Write the trial report of the shown protocol (re-read first, so it is current)."""
        self.refresh()
        overview = self.overview
        assert overview is not None
        from clinic_app.reports.trial_report import write_trial_report
        from clinic_app.services.documents import stamp as print_stamp

        try:  # as every printout: local time and the record's paper size
            stamp = print_stamp(self.record, self.user, None)
        except DomainError as exc:  # a damaged paper-size setting
            self.statusBar().showMessage(exc.message)
            return

        write_trial_report(overview, stamp, path)
        self.statusBar().showMessage(f"Trial report saved to {path}")

    def event(self, event: QEvent) -> bool:
        # Coming back to the window (e.g. after confirming a DLT review elsewhere) re-reads it.
        if event.type() == QEvent.Type.WindowActivate and self.overview is not None:
            self.refresh()
        return super().event(event)


__all__ = ["KmPlot", "RowsModel", "TrialBoardWindow"]
