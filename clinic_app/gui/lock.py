"""Idle lock and switching user: patient data hidden until someone signs in again.

After ``security.idle_lock_minutes`` (10 by default) without a key press or mouse action in any
window of the app, the main window shows the lock page instead of the list and chart, hides
every other window and dialog of the app, drops the patient from the title and disables every
action. The same user unlocks with their password and finds everything as they left it. When a
different user signs in on the lock page (also the way File ▸ Switch user works), each dialog
that was open is closed, and what had been typed in it is kept as a draft for its author
(``gui/drafts.py``): nothing is discarded silently.

Only a record with user accounts locks (in open mode nobody could unlock it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from clinic_app.gui.errors import error_label, show_storage_error
from clinic_app.gui.sign_in import password_edit, show_error
from clinic_app.storage.errors import StorageError
from clinic_app.storage.users import SignInRefused

if TYPE_CHECKING:
    from clinic_app.storage.database import Record

IDLE_SETTING = "security.idle_lock_minutes"
DEFAULT_IDLE_MINUTES = 10
_ACTIVITY = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class LockHost(Protocol):
    """What the lock asks of the window it locks (the main window is one): the record, the
    stack whose page it swaps, and a call when the signed-in user changed."""

    @property
    def record(self) -> Record: ...

    @property
    def root(self) -> QStackedWidget: ...

    @property
    def splitter(self) -> QWidget:
        """What the stack shows while unlocked."""
        ...

    def user_changed(self) -> None: ...


def idle_minutes(record: Record) -> int:
    """The record's ``security.idle_lock_minutes`` (1-240), else the default of 10."""
    try:
        value = record.repos.settings.value(IDLE_SETTING, DEFAULT_IDLE_MINUTES)
    except StorageError:
        return DEFAULT_IDLE_MINUTES
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 240:
        return value
    return DEFAULT_IDLE_MINUTES


class IdleWatcher(QObject):
    """Restarts a single-shot timer on every key or mouse action in the application."""

    def __init__(self, parent: QObject, interval_ms: int) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(interval_ms)
        self.installed = False

    def start(self) -> None:
        app = QApplication.instance()
        if app is not None and not self.installed:
            app.installEventFilter(self)
            self.installed = True
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None and self.installed:
            app.removeEventFilter(self)
            self.installed = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY and self.timer.isActive():
            self.timer.start()
        return False


class LockPage(QWidget):
    """What the main window shows while locked: no patient data, a sign-in form."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("lock_page")
        self.message = QLabel(self)
        self.message.setObjectName("lock_message")
        self.message.setWordWrap(True)
        self.username = QLineEdit(self)
        self.username.setObjectName("lock_username")
        self.password = password_edit(self, "lock_password")
        self.error = error_label(self)
        self.error.setObjectName("lock_error")
        self.buttons = QDialogButtonBox(self)
        self.unlock_button = self.buttons.addButton(
            "&Unlock", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.unlock_button.setDefault(True)
        self.unlock_button.setAutoDefault(True)
        form = QFormLayout()
        form.addRow("&Username:", self.username)
        form.addRow("&Password:", self.password)
        form.addRow("", self.error)
        box = QWidget(self)
        inner = QVBoxLayout(box)
        inner.addWidget(self.message)
        inner.addLayout(form)
        inner.addWidget(self.buttons)
        # A fixed width (not an alignment) lets the layout give the wrapped messages the
        # height they need at that width, so no sentence is cut off.
        box.setFixedWidth(self.fontMetrics().averageCharWidth() * 70)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        self.password.returnPressed.connect(self.unlock_button.click)
        self.username.returnPressed.connect(self.password.setFocus)


class Session(QObject):
    """Who is signed in on ``window``; locks, unlocks and switches user."""

    def __init__(self, window: QMainWindow, host: LockHost) -> None:
        super().__init__(window)
        self.window = window
        """The Qt window locked: its title, actions, status bar and dialogs."""
        self.host = host
        self.record = host.record
        self.locked = False
        self.locked_user: str | None = None
        self.hidden: list[QWidget] = []
        self.disabled: list[QAction] = []
        self.title = ""
        self._page: LockPage | None = None  # built when first locked (issue 16)
        self.idle = IdleWatcher(self, idle_minutes(host.record) * 60_000)
        self.idle.timer.timeout.connect(self.lock)
        self.retry_timer = QTimer(self)
        self.retry_timer.setSingleShot(True)
        self.retry_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.retry_timer.timeout.connect(lambda: self.page.unlock_button.setEnabled(True))
        self.user_changed()

    @property
    def page(self) -> LockPage:
        """The lock page in the window's stack; built on first use, not at every start."""
        if self._page is None:
            self._page = LockPage(self.window)
            self.host.root.addWidget(self._page)
            self._page.unlock_button.clicked.connect(self.try_unlock)
        return self._page

    def set_idle_interval(self, milliseconds: int) -> None:
        self.idle.timer.setInterval(milliseconds)
        if self.idle.timer.isActive():
            self.idle.timer.start()

    def user_changed(self) -> None:
        """After a sign-in (or the first account): restart the idle clock, refresh the UI."""
        if self.record.has_users() and self.record.app_user is not None:
            self.idle.start()
        self.host.user_changed()

    def stop(self) -> None:
        self.idle.stop()
        self.retry_timer.stop()

    # -- locking ---------------------------------------------------------------------------
    def lock(self, *, switching: bool = False) -> None:
        if self.locked or not self.record.has_users():
            return
        self.locked = True
        self.locked_user = self.record.app_user
        self.idle.timer.stop()
        window = self.window
        self.hidden = [
            w
            for w in QApplication.topLevelWidgets()
            if w is not window and w.isVisible() and not isinstance(w, QLabel)
        ]
        for widget in self.hidden:
            widget.hide()
        self.disabled = [a for a in window.findChildren(QAction) if a.isEnabled()]
        for action in self.disabled:
            action.setEnabled(False)
        self.title = window.windowTitle()
        window.setWindowTitle("clinic-app — locked")
        me = self.record.repos.users.current()
        who = me.full_name if me is not None else "the signed-in user"
        if switching:
            text = (
                f"<h2>Switch user</h2><p>{who} stepped away. The next user signs in here. "
                "Anything left unsaved is kept as a draft for its author.</p>"
            )
        else:
            text = (
                f"<h2>Locked</h2><p>This window was locked after a while without use, to keep "
                f"patient data private. {who} unlocks it with their password; another user "
                "may sign in instead (unsaved entries are then kept as drafts for their "
                "author).</p>"
            )
        self.page.message.setText(text)
        self.page.username.setText("" if switching else (self.locked_user or ""))
        self.page.password.clear()
        self.page.error.setVisible(False)
        self.host.root.setCurrentWidget(self.page)
        (self.page.username if switching else self.page.password).setFocus()

    def switch_user(self) -> None:
        self.lock(switching=True)

    def try_unlock(self) -> None:
        self.page.error.setVisible(False)
        try:
            user = self.record.repos.users.authenticate(
                self.page.username.text(), self.page.password.text()
            )
        except StorageError as exc:
            show_storage_error(self.window, exc)
            return
        except SignInRefused as exc:
            show_error(self.page.error, exc.message)
            if exc.retry_after:
                self.page.unlock_button.setEnabled(False)
                self.retry_timer.start(exc.retry_after * 1000 + 250)
            return
        finally:
            self.page.password.clear()
        same = self.locked_user is not None and user.username == self.locked_user
        if not same:
            self._keep_drafts()
        self.record.set_user(user.username)
        self._unlock(restore=same)

    def _keep_drafts(self) -> None:
        from clinic_app.gui import drafts  # when it locks, not at start (issue 16)

        name = self.locked_user
        author = None if name is None else self.record.repos.users.find(name)
        kept = 0
        for widget in self.hidden:
            if not isinstance(widget, QDialog):
                continue
            values = drafts.capture(widget)
            if author is not None and values:
                try:
                    self.record.repos.drafts.keep(
                        author, drafts.dialog_kind(widget), drafts.patient_of(widget), values
                    )
                    kept += 1
                except StorageError as exc:
                    show_storage_error(self.window, exc)
                    continue  # the dialog stays (hidden) rather than losing its entries
            widget.reject()
        self.hidden = [w for w in self.hidden if not isinstance(w, QDialog) or w.isVisible()]
        if kept:
            self.window.statusBar().showMessage(
                f"{kept} unsaved form(s) of {self.locked_user} kept as drafts for them.", 15000
            )

    def _unlock(self, *, restore: bool) -> None:
        window = self.window
        self.locked = False
        for action in self.disabled:
            action.setEnabled(True)
        self.disabled = []
        self.host.root.setCurrentWidget(self.host.splitter)
        window.setWindowTitle(self.title)
        for widget in self.hidden:
            widget.show()
        self.hidden = []
        self.locked_user = None
        self.user_changed()
        del restore  # dialogs of the same user were shown again above

    # -- drafts ----------------------------------------------------------------------------
    def offer_draft(self, dialog: QWidget, patient_id: int | None) -> None:
        """Put back the signed-in user's draft for this kind of dialog and patient, if any."""
        from clinic_app.gui import drafts  # when a dialog opens, not at start (issue 16)

        dialog.setProperty(drafts.PATIENT_PROPERTY, patient_id)
        if not self.record.has_users():
            return
        try:
            me = self.record.repos.users.current()
            if me is None:
                return
            waiting = self.record.repos.drafts.waiting(me, drafts.dialog_kind(dialog), patient_id)
            if not waiting:
                return
            latest = waiting[-1]
            drafts.apply(dialog, latest.fields)
            for draft in waiting:
                self.record.repos.drafts.close(draft, "draft restored to its author")
        except StorageError as exc:
            show_storage_error(self.window, exc)
            return
        self.window.statusBar().showMessage(
            f"Your unsaved entries from {latest.created_at[:16].replace('T', ' ')} UTC were "
            "put back; check them, then save.",
            20000,
        )
