// The lab page's entry: defines the components (each module registers its element) and
// mounts the shell. The stylesheets are linked from index.html.
import "./lab-app.ts";

if (!document.querySelector("lab-app")) document.body.append(document.createElement("lab-app"));
