//! Acting on the app's window as a person and their desktop would, over the X protocol:
//! finding it, moving and resizing it, pressing its close button (the window manager's
//! `WM_DELETE_WINDOW` request), clicking with the mouse (XTEST), and being the system tray
//! that a tray icon docks into.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConfigureWindowAux, ConnectionExt as _, CreateWindowAux,
    EventMask, MapState, Window, WindowClass, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT,
    MOTION_NOTIFY_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::CURRENT_TIME;

/// A connection to a display, as the person at it.
pub struct Desk {
    conn: RustConnection,
    root: Window,
    screen: usize,
}

/// A window's place on the screen and its size, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Desk {
    pub fn open(display: &str) -> Self {
        let (conn, screen) = x11rb::connect(Some(display)).unwrap();
        let root = conn.setup().roots[screen].root;
        Self { conn, root, screen }
    }

    fn atom(&self, name: &str) -> Atom {
        self.conn
            .intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    }

    fn title(&self, window: Window) -> Option<String> {
        let utf8 = self.atom("UTF8_STRING");
        let net_name = self.atom("_NET_WM_NAME");
        [
            (net_name, utf8),
            (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
        ]
        .into_iter()
        .find_map(|(property, kind)| {
            let reply = self
                .conn
                .get_property(false, window, property, kind, 0, 256)
                .ok()?
                .reply()
                .ok()?;
            (!reply.value.is_empty()).then(|| String::from_utf8_lossy(&reply.value).into())
        })
    }

    /// The shown top-level window titled `title`, waiting up to `wait` for it to appear.
    pub fn window(&self, title: &str, wait: Duration) -> Window {
        let deadline = Instant::now() + wait;
        loop {
            let children = self.conn.query_tree(self.root).unwrap().reply().unwrap();
            let found = children.children.into_iter().find(|&w| {
                let shown = self
                    .conn
                    .get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE);
                shown && self.title(w).as_deref() == Some(title)
            });
            if let Some(w) = found {
                return w;
            }
            assert!(Instant::now() < deadline, "no window titled {title:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn place(&self, window: Window) -> Place {
        let g = self.conn.get_geometry(window).unwrap().reply().unwrap();
        let at = self
            .conn
            .translate_coordinates(window, self.root, 0, 0)
            .unwrap()
            .reply()
            .unwrap();
        Place {
            x: at.dst_x.into(),
            y: at.dst_y.into(),
            width: g.width.into(),
            height: g.height.into(),
        }
    }

    /// Moves and resizes a window, as dragging its edges would.
    pub fn put(&self, window: Window, to: Place) {
        let aux = ConfigureWindowAux::new()
            .x(to.x)
            .y(to.y)
            .width(to.width)
            .height(to.height);
        self.conn.configure_window(window, &aux).unwrap();
        self.conn.flush().unwrap();
    }

    /// Presses the window's close button: the window manager asks the window to close.
    pub fn close(&self, window: Window) {
        let protocols = self.atom("WM_PROTOCOLS");
        let delete = self.atom("WM_DELETE_WINDOW");
        let message =
            ClientMessageEvent::new(32, window, protocols, [delete, CURRENT_TIME, 0, 0, 0]);
        self.conn
            .send_event(false, window, EventMask::NO_EVENT, message)
            .unwrap();
        self.conn.flush().unwrap();
    }

    /// A left click at a point on the screen.
    pub fn click(&self, x: i32, y: i32) {
        let (x, y) = (x as i16, y as i16);
        self.conn
            .xtest_fake_input(MOTION_NOTIFY_EVENT, 0, CURRENT_TIME, self.root, x, y, 0)
            .unwrap();
        self.conn.sync().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for kind in [BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT] {
            self.conn
                .xtest_fake_input(kind, 1, CURRENT_TIME, self.root, x, y, 0)
                .unwrap();
            self.conn.sync().unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Becomes the system tray of this screen (the freedesktop.org system tray protocol), so
    /// that tray icons dock here.
    pub fn tray(self) -> Tray {
        let window = self.conn.generate_id().unwrap();
        self.conn
            .create_window(
                0,
                window,
                self.root,
                0,
                0,
                1,
                1,
                0,
                WindowClass::INPUT_ONLY,
                0,
                &CreateWindowAux::new(),
            )
            .unwrap();
        let selection = self.atom(&format!("_NET_SYSTEM_TRAY_S{}", self.screen));
        self.conn
            .set_selection_owner(window, selection, CURRENT_TIME)
            .unwrap();
        let manager = self.atom("MANAGER");
        let announce = ClientMessageEvent::new(
            32,
            self.root,
            manager,
            [CURRENT_TIME, selection, window, 0, 0],
        );
        self.conn
            .send_event(false, self.root, EventMask::STRUCTURE_NOTIFY, announce)
            .unwrap();
        self.conn.flush().unwrap();
        let opcode = self.atom("_NET_SYSTEM_TRAY_OPCODE");
        Tray {
            desk: self,
            opcode,
            docked: Vec::new(),
        }
    }
}

/// This screen's system tray: icons that asked to dock.
pub struct Tray {
    desk: Desk,
    opcode: Atom,
    /// The icons' windows, in the order they asked.
    pub docked: Vec<Window>,
}

impl Tray {
    /// Whether an icon is in the tray and wants to be seen (the XEmbed "mapped" flag of
    /// the icons that asked to dock), waiting up to `wait` for that to become `want`.
    pub fn icon_shown(&mut self, want: bool, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let info = self.desk.atom("_XEMBED_INFO");
        loop {
            self.icon_docks(Duration::ZERO);
            let shown = self.docked.iter().any(|&icon| {
                self.desk
                    .conn
                    .get_property(false, icon, info, info, 0, 2)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .and_then(|r| r.value32().and_then(|mut v| v.nth(1)))
                    .is_some_and(|flags| flags & 1 == 1)
            });
            if shown == want || Instant::now() >= deadline {
                return shown;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Reads what arrived (at least once, however short `wait` is); true when an icon asked to
    /// dock within `wait`.
    pub fn icon_docks(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let before = self.docked.len();
        loop {
            while let Some(event) = self.desk.conn.poll_for_event().unwrap() {
                if let Event::ClientMessage(m) = event {
                    let data = m.data.as_data32();
                    // SYSTEM_TRAY_REQUEST_DOCK is opcode 0; the icon's window follows.
                    if m.type_ == self.opcode && data[1] == 0 {
                        self.docked.push(data[2]);
                    }
                }
            }
            if self.docked.len() > before {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
