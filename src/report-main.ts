/** Browser entry of report.html: registers <wsi-corrections-report>, a model run's corrections report with its plots. */
import './ui/corrections-report.js';
