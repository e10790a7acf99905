/** Browser entry of audit.html: registers <wsi-audit>, the audit browser for auditors and admins. */
import './ui/audit-browser.js';
