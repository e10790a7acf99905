/** Browser entry of inbox.html: registers <wsi-inbox>, a project's quarantine inbox for its managers. */
import './ui/inbox-panel.js';
