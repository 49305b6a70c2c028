// The dashboard's charts (Apache ECharts from static/vendor): each bar opens its filtered list.
// The figures come from the page (json_script); each chart also has a table under it.
(function () {
  var source = document.getElementById("rf-chart-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var wall = document.body.classList.contains("rf-wall");
  var font = wall ? 20 : 12;
  // A phone: narrower labels, so the bars keep most of the width.
  var narrow = !wall && window.innerWidth < 600;
  var labelWidth = wall ? 250 : narrow ? 100 : 160;
  var colours = {green: "#2e7d32", yellow: "#f9a825", red: "#c62828"};
  var charts = [];

  function draw(name, option, onClick) {
    var box = document.querySelector('[data-chart="' + name + '"]');
    if (!box) { return; }
    var chart = echarts.init(box, null, {renderer: "svg"});
    option.textStyle = {fontSize: font};
    option.animation = false;
    chart.setOption(option);
    chart.on("click", function (params) {
      var url = onClick(params);
      if (url) { window.location.href = url; }
    });
    charts.push(chart);
  }
  var axisText = {fontSize: font, width: labelWidth, overflow: "truncate", interval: 0};

  draw("aspects", {
    grid: {left: labelWidth + 10, right: 40, top: 10, bottom: 24},
    xAxis: {type: "value", max: 100, splitNumber: wall ? 2 : 5, axisLabel: {fontSize: font, formatter: "{value}%"}},
    yAxis: {type: "category", inverse: true, data: data.aspects.labels, axisLabel: axisText},
    tooltip: {},
    series: [{type: "bar", name: data.aspects.name, data: data.aspects.values, itemStyle: {color: "#3949ab"},
              label: {show: true, position: "right", formatter: "{c}%", fontSize: font}, cursor: "pointer"}]
  }, function (p) { return data.aspects.urls[p.dataIndex]; });

  draw("lights", {
    grid: {left: labelWidth + 10, right: 30, top: 30, bottom: 24},
    legend: {top: 0, textStyle: {fontSize: font}},
    xAxis: {type: "value", minInterval: 1, axisLabel: {fontSize: font}},
    yAxis: {type: "category", inverse: true, data: data.lights.labels, axisLabel: axisText},
    tooltip: {},
    series: data.lights.series.map(function (s) {
      return {type: "bar", stack: "lights", name: s.name, data: s.values, itemStyle: {color: colours[s.key]}, cursor: "pointer"};
    })
  }, function (p) { return data.lights.series[p.seriesIndex].urls[p.dataIndex]; });

  draw("overdue", {
    grid: {left: 50, right: 20, top: 20, bottom: 30},
    xAxis: {type: "category", data: data.overdue.labels, axisLabel: {fontSize: font}},
    yAxis: {type: "value", minInterval: 1, axisLabel: {fontSize: font}},
    tooltip: {trigger: "axis"},
    series: [{type: "line", name: data.overdue.name, data: data.overdue.values, itemStyle: {color: "#c62828"},
              symbolSize: wall ? 14 : 8, areaStyle: {opacity: 0.15}, cursor: "pointer"}]
  }, function () { return data.overdue.url; });

  draw("rollup", {
    grid: {left: labelWidth + 10, right: 30, top: 30, bottom: 24},
    legend: {top: 0, textStyle: {fontSize: font}},
    xAxis: {type: "value", minInterval: 1, axisLabel: {fontSize: font}},
    yAxis: {type: "category", inverse: true, data: data.rollup.labels, axisLabel: axisText},
    tooltip: {},
    series: data.rollup.series.map(function (s, i) {
      return {type: "bar", name: s.name, data: s.values, cursor: "pointer",
              itemStyle: {color: ["#3949ab", "#2e7d32", "#c62828"][i]}};
    })
  }, function (p) { return data.rollup.series[p.seriesIndex].urls[p.dataIndex]; });

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
