'use strict';
// Parzen's dashboard: the trace types its pages draw (scatter is in core).
var Plotly = require('plotly.js/lib/core');
Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/scattergl'),
    require('plotly.js/lib/parcoords'),
]);
module.exports = Plotly;
