// Stylesheets are imported for the bundle (esbuild gathers them into console.css); they export nothing.
declare module '*.css' {}
