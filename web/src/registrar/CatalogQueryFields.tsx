/** The two fields the registrar's course and section searches share: code or title, and department. */
export function CatalogQueryFields(props: { id: string; query: string; onQuery: (q: string) => void; department: string; onDepartment: (d: string) => void; testId: string }) {
  const { id } = props;
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-q`}>Course code or title</label>
        <input id={`${id}-q`} type="search" value={props.query} onChange={(e) => props.onQuery(e.target.value)} data-testid={props.testId} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-d`}>Department</label>
        <input id={`${id}-d`} value={props.department} onChange={(e) => props.onDepartment(e.target.value.toUpperCase())} maxLength={8} />
      </div>
    </>
  );
}
