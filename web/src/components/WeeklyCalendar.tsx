import { useMemo, type CSSProperties } from 'react';
import { layoutWeek, type CalendarItem } from '../lib/calendar';
import { dayLong, dayShort, formatMinutes } from '../lib/time';

/**
 * The week as a grid of days and hours with each meeting as a block; overlapping
 * meetings sit side by side and are marked as conflicts. Each day is a labelled
 * list, so screen readers get "Monday: CS 101 · 001, 09:00–09:50, …".
 */
export function WeeklyCalendar({ items, caption = 'Weekly calendar' }: { items: readonly CalendarItem[]; caption?: string }) {
  const layout = useMemo(() => layoutWeek(items), [items]);
  const hourHeight = 48;
  const bodyHeight = ((layout.endMinute - layout.startMinute) / 60) * hourHeight;
  return (
    <figure className="calendar" data-testid="weekly-calendar" aria-label={caption}>
      <figcaption>{caption}</figcaption>
      <div className="cal-scroll">
        <div className="cal-grid" style={{ '--cal-days': layout.days.length } as CSSProperties}>
          <div className="cal-times" aria-hidden="true">
            <div className="cal-day-name">&nbsp;</div>
            <div className="cal-day-body" style={{ height: bodyHeight }}>
              {layout.hours.slice(0, -1).map((h) => (
                <span key={h} className="cal-hour" style={{ top: ((h * 60 - layout.startMinute) / 60) * hourHeight }}>
                  {formatMinutes(h * 60)}
                </span>
              ))}
            </div>
          </div>
          {layout.days.map((day) => {
            const blocks = layout.blocks.filter((b) => b.day === day);
            return (
              <section key={day} className="cal-day" aria-label={dayLong(day)} data-day={dayShort(day)}>
                <h4 className="cal-day-name" aria-hidden="true">
                  {dayShort(day)}
                </h4>
                <ul className="cal-day-body" style={{ height: bodyHeight }}>
                  {blocks.length === 0 ? <li className="visually-hidden">Nothing scheduled</li> : null}
                  {blocks.map((b) => (
                    <li
                      key={b.key}
                      className={`cal-block tone-${b.item.tone}${b.conflict ? ' cal-conflict' : ''}`}
                      data-testid="calendar-block"
                      data-item-id={b.itemId}
                      data-day={dayShort(day)}
                      style={{
                        top: `${b.topPct}%`,
                        height: `${b.heightPct}%`,
                        left: `${(b.lane / b.laneCount) * 100}%`,
                        width: `${100 / b.laneCount}%`,
                      }}
                      title={`${b.item.label}, ${formatMinutes(b.start)}–${formatMinutes(b.end)}${b.room ? `, ${b.room}` : ''}, ${b.item.status}`}
                    >
                      <span className="cal-label">{b.item.label}</span>
                      <span className="cal-time">
                        {formatMinutes(b.start)}–{formatMinutes(b.end)}
                      </span>
                      {b.room ? <span className="cal-room">{b.room}</span> : null}
                      <span className="cal-status">
                        {b.item.status}
                        {b.conflict ? ' · time conflict' : ''}
                      </span>
                    </li>
                  ))}
                </ul>
              </section>
            );
          })}
        </div>
      </div>
      {layout.unscheduled.length > 0 ? (
        <div className="cal-unscheduled">
          <h4>Without scheduled meetings</h4>
          <ul>
            {layout.unscheduled.map((i) => (
              <li key={i.id} data-testid="calendar-unscheduled">
                {i.label} — {i.status}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </figure>
  );
}
