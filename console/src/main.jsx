// The canopsis operator console: one page, routed in the browser, talking to /api/v2.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { render } from "preact";
import { App } from "./app.jsx";

render(<App />, document.getElementById("app"));
