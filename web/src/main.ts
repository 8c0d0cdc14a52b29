import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import { setupI18n } from "./lib/i18n";

window.__convscopeFrames = 0;
setupI18n();

const target = document.getElementById("app");
if (!target) throw new Error("no #app element");

export default mount(App, { target });
