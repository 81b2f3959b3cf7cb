// OpenCaseFunction of the AWS tutorial "Create a Serverless Workflow with AWS Step Functions
// and AWS Lambda": a Lambda handler, run here unchanged by ../worker.js.
exports.handler = (event, context, callback) => {
  // Create a support case using the input as the case ID, then return a confirmation message
  var myCaseID = event.inputCaseID;
  var myMessage = "Case " + myCaseID + ": opened...";
  var result = { Case: myCaseID, Message: myMessage };
  callback(null, result);
};
