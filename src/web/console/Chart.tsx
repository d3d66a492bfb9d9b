// One uPlot time chart, created once and fed new data in place.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#db2777'];

export function Chart(props: { title: string; t: readonly number[]; series: readonly { label: string; values: readonly (number | null)[] }[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const labels = props.series.map((s) => s.label).join('|');
  const data = (): uPlot.AlignedData => [props.t as number[], ...props.series.map((s) => s.values as (number | null)[])];

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const width = Math.max(260, el.clientWidth || 320);
    const u = new uPlot(
      {
        title: props.title,
        width,
        height: 160,
        series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false }))],
        axes: [{}, { size: 44 }],
        scales: { y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] } },
        legend: { live: false },
      },
      data(),
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(260, el.clientWidth), height: 160 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = undefined;
    };
  }, [labels]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [props.t, props.series]);

  return <div class="chart" ref={box} />;
}
