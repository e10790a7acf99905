/** Browser entry: registers <wsi-app> (which registers <wsi-viewer>). */
import './ui/wsi-app.js';
