// Stylesheets are imported for the bundle (esbuild gathers them into graphiql.css); they export nothing.
declare module '*.css' {}
